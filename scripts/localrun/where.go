package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-data/sluice/shared/devstack"
)

// Where tells where every message of a pipeline's queues is, as the SQS
// emulator sees it: ready, delayed, in flight (with the time left of its
// visibility timeout), delivered to a connection the client had already
// closed (lost: it stays in flight for the visibility timeout that receive
// asked for), or deleted; and what the dead-letter queues hold. It is what
// a test prints when it waited for the pipeline in vain.
//
// It reads fauxqs's inspection endpoint (/_fauxqs/queues/<name>) and the
// delivery trace scripts/emulators/fauxqs.mjs adds (/_sluice/trace/<name>);
// against any other SQS it says it cannot tell.
func Where(ctx context.Context, sqsEndpoint string, r devstack.Resources) string {
	var b strings.Builder
	for _, key := range devstack.QueueKeys() {
		q, _ := r.Queue(key)
		for _, u := range []string{q.URL, q.DLQURL} {
			if u == "" {
				continue
			}
			if err := describeQueue(ctx, &b, sqsEndpoint, path.Base(u)); err != nil {
				fmt.Fprintf(&b, "%s: cannot tell (%v)\n", path.Base(u), err)
			}
		}
	}
	return b.String()
}

type inspected struct {
	Messages struct {
		Ready    []fauxMessage `json:"ready"`
		Delayed  []fauxMessage `json:"delayed"`
		Inflight []struct {
			Message            fauxMessage `json:"message"`
			VisibilityDeadline int64       `json:"visibilityDeadline"` // epoch ms
		} `json:"inflight"`
	} `json:"messages"`
}

type fauxMessage struct {
	ID           string `json:"messageId"`
	Body         string `json:"body"`
	ReceiveCount int    `json:"approximateReceiveCount"`
}

type trace struct {
	Deliveries []struct {
		ID      string `json:"id"`
		Receive int    `json:"receive"`
		At      string `json:"at"`
		Lost    bool   `json:"lost"`
		What    string `json:"what"`
	} `json:"deliveries"`
	Deleted []struct {
		ID   string `json:"id"`
		What string `json:"what"`
	} `json:"deleted"`
}

// maxLines bounds what one queue prints.
const maxLines = 200

func describeQueue(ctx context.Context, b *strings.Builder, endpoint, name string) error {
	var in inspected
	if err := getJSON(ctx, endpoint+"/_fauxqs/queues/"+url.PathEscape(name), &in); err != nil {
		return err
	}
	var tr trace
	if err := getJSON(ctx, endpoint+"/_sluice/trace/"+url.PathEscape(name), &tr); err != nil {
		return err
	}
	lostAt := map[string]string{}
	for _, d := range tr.Deliveries {
		if d.Lost {
			lostAt[d.ID] = d.At
		}
	}
	var lines []string
	for _, m := range in.Messages.Ready {
		lines = append(lines, fmt.Sprintf("ready      %s receives=%d %s", m.ID, m.ReceiveCount, Summary(m.Body)))
	}
	for _, m := range in.Messages.Delayed {
		lines = append(lines, fmt.Sprintf("delayed    %s %s", m.ID, Summary(m.Body)))
	}
	now := time.Now()
	for _, e := range in.Messages.Inflight {
		state := "in flight "
		if at, ok := lostAt[e.Message.ID]; ok {
			state = "in flight, delivered at " + at + " to a closed connection (lost receive),"
		}
		left := time.UnixMilli(e.VisibilityDeadline).Sub(now).Round(100 * time.Millisecond)
		lines = append(lines, fmt.Sprintf("%s %s receives=%d visible again in %v %s", state, e.Message.ID, e.Message.ReceiveCount, left, Summary(e.Message.Body)))
	}
	for _, d := range tr.Deleted {
		lines = append(lines, fmt.Sprintf("deleted    %s %s", d.ID, d.What))
	}
	sort.Strings(lines)
	fmt.Fprintf(b, "%s: %d ready, %d delayed, %d in flight, %d deleted, %d receives lost so far\n",
		name, len(in.Messages.Ready), len(in.Messages.Delayed), len(in.Messages.Inflight), len(tr.Deleted), len(lostAt))
	for i, l := range lines {
		if i == maxLines {
			fmt.Fprintf(b, "  … %d more\n", len(lines)-maxLines)
			break
		}
		fmt.Fprintf(b, "  %s\n", l)
	}
	return nil
}

// MessageRef names a pipeline message by the fields that tell messages of
// a run apart, without its payload.
type MessageRef struct {
	Kind    string `json:"kind"`
	Source  string `json:"source"`
	Window  string `json:"window"`
	Attempt int    `json:"attempt"`
	Seq     *int   `json:"seq"`
	Hop     int    `json:"hop"`
}

// Input is the message's input, <source>/<window>.
func (m MessageRef) Input() string { return m.Source + "/" + m.Window }

// refOf reads the MessageRef of a body; false if it is not a pipeline
// message.
func refOf(body string) (MessageRef, bool) {
	var m MessageRef
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Kind == "" {
		return MessageRef{}, false
	}
	return m, true
}

// Queued is what a queue holds, by state, as fauxqs sees it (see Where).
type Queued struct {
	Ready, Delayed, InFlight []MessageRef
}

// All is every message the queue holds, whatever its state.
func (q Queued) All() []MessageRef { return slices.Concat(q.Ready, q.Delayed, q.InFlight) }

// Messages returns the pipeline messages the queue at queueURL holds:
// ready, delayed, and in flight (received, neither deleted nor visible
// again).
func Messages(ctx context.Context, sqsEndpoint, queueURL string) (Queued, error) {
	var in inspected
	if err := getJSON(ctx, sqsEndpoint+"/_fauxqs/queues/"+url.PathEscape(path.Base(queueURL)), &in); err != nil {
		return Queued{}, err
	}
	var q Queued
	add := func(to *[]MessageRef, body string) {
		if m, ok := refOf(body); ok {
			*to = append(*to, m)
		}
	}
	for _, m := range in.Messages.Ready {
		add(&q.Ready, m.Body)
	}
	for _, m := range in.Messages.Delayed {
		add(&q.Delayed, m.Body)
	}
	for _, e := range in.Messages.Inflight {
		add(&q.InFlight, e.Message.Body)
	}
	return q, nil
}

// Summary names a pipeline message body as MessageRef does, in one line.
func Summary(body string) string {
	m, ok := refOf(body)
	if !ok {
		return fmt.Sprintf("(%d bytes, not a pipeline message)", len(body))
	}
	s := fmt.Sprintf("%s %s/%s", m.Kind, m.Source, m.Window)
	if m.Attempt > 0 {
		s += fmt.Sprintf(" attempt=%d", m.Attempt)
	}
	if m.Seq != nil {
		s += fmt.Sprintf(" seq=%d", *m.Seq)
	}
	if m.Hop > 0 {
		s += fmt.Sprintf(" hop=%d", m.Hop)
	}
	return s
}

func getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
