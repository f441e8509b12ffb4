package main

// `sluicectl redrive` empties a dead-letter queue, in one of two ways:
//
//   - triggers and inputs: the messages go back to their queue as they are
//     (StartMessageMoveTask, or a client-side move where that API is
//     missing). They carry no attempt, so a moved-back message is simply
//     processed again.
//   - fetch and batches: moving back would lose the messages. By the time a
//     Fetch, Batch or Done is parked, its attempt is over (FAILED, or its
//     process died on the last receive), so a moved-back message carries a
//     stale attempt and is dropped as fenced. Instead, redrive re-triggers
//     the input (source + window) as one new Input, and dedupe claims a new
//     attempt. A DLQ message is deleted only once its input no longer needs
//     it: claimed anew, or SUCCEEDED (see redriveRuns).
//
// Both ways read the DLQ the same bounded way (dlqReader, over the
// consumer's queue code: consumer.Queue Receive, Delete, Release): at most the
// number of messages it held at the start, each message once, so that a
// message parked again while redrive runs cannot keep it going forever.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/consumer"
)

const (
	// holdFor is how long a received DLQ message stays invisible while
	// redrive handles it (plus --wait for fetch and batches); messages it
	// leaves are made visible again at the end, so this only matters if
	// sluicectl dies mid-way.
	holdFor = 5 * time.Minute
	// defaultWait is how long redrive waits, by default, for dedupe to claim
	// the inputs it re-triggered.
	defaultWait = time.Minute
	// receiveWait is the long-poll wait that decides the DLQ is empty.
	receiveWait = time.Second
	// listedKeys is how many re-triggered inputs the summary names.
	listedKeys = 10
)

func cmdRedrive(ctx context.Context, aws awsClients, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	name := fs.String("queue", "", "triggers, inputs, fetch or batches (required)")
	max := fs.Int("max", 0, "handle at most this many DLQ messages (0: as many as the DLQ holds at the start); for triggers and inputs, moves them client-side")
	wait := fs.Duration("wait", defaultWait, "fetch and batches: how long to wait for dedupe to claim the re-triggered inputs; a message whose input is not claimed by then stays in the DLQ")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), redriveUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !slices.Contains([]string{"triggers", "inputs", "fetch", "batches"}, *name) {
		return fmt.Errorf("--queue: %q, want triggers, inputs, fetch or batches", *name)
	}
	if *max < 0 {
		return fmt.Errorf("--max: %d is negative", *max)
	}
	if *wait < 0 {
		return fmt.Errorf("--wait: %v is negative", *wait)
	}
	url, err := env("SLUICE_" + strings.ToUpper(*name) + "_QUEUE_URL")
	if err != nil {
		return err
	}
	dlqURL := url + "-dlq"
	if *name == "fetch" || *name == "batches" {
		inputsURL, err := env("SLUICE_INPUTS_QUEUE_URL")
		if err != nil {
			return err
		}
		store, err := openStore(aws)
		if err != nil {
			return err
		}
		clients, err := aws()
		if err != nil {
			return err
		}
		return redriveRuns(ctx, clients.SQS, store, *name, dlqURL, inputsURL, *max, *wait, out)
	}
	clients, err := aws()
	if err != nil {
		return err
	}
	return redriveMove(ctx, clients.SQS, url, dlqURL, *max, out)
}

const redriveUsage = `usage: sluicectl redrive --queue triggers|inputs|fetch|batches [--max N] [--wait D]

Empties the DLQ of a queue (its URL plus -dlq).

triggers, inputs: the messages move back to their queue as they are
(StartMessageMoveTask, or a client-side move where it is missing or with --max).

fetch, batches: each input (source + window) of the DLQ's messages is looked
up in the runs table (SLUICE_RUNS_TABLE), and its messages are deleted only
once the input no longer needs them:
  - SUCCEEDED: deleted, not rerun (sluicectl trigger --force reruns it);
  - held by a newer attempt than a message's: that message is deleted;
  - FAILED, lease expired, or no run: one new input (trigger redrive) is sent
    to the inputs queue, and the messages are deleted once dedupe has claimed
    it anew (within --wait); otherwise they stay;
  - held by a live lease of the message's own attempt: the messages stay
    (dedupe would drop a re-trigger); redrive says until when, and the way
    out: redrive again after the lease, or sluicectl release --force <input>
    if its worker is gone, then redrive again.
Every message kept is made visible again at once, and each is named with
its reason. Running redrive again is always safe.

`

var errNoMoveTask = errors.New("StartMessageMoveTask is not supported here")

// redriveMove asks SQS to move the DLQ's messages back (StartMessageMoveTask).
// Where the queue service lacks that API (fauxqs, the local emulator), or
// when max is set (a move task cannot stop at a count), it moves them
// itself: receive, send to the queue, delete.
func redriveMove(ctx context.Context, api *sqs.Client, url, dlqURL string, max int, out io.Writer) error {
	if max > 0 {
		fmt.Fprintf(out, "--max %d: client-side move (receive → send → delete); StartMessageMoveTask cannot stop at a count\n", max)
	} else {
		err := startMoveTask(ctx, api, url, dlqURL)
		if err == nil {
			fmt.Fprintf(out, "move task started: %s → %s (AWS moves the messages in the background)\n", dlqURL, url)
			return nil
		}
		fmt.Fprintf(out, "StartMessageMoveTask failed (%v); falling back to client-side move (receive → send → delete)\n", err)
	}
	dlq, err := openDLQ(ctx, api, dlqURL, max)
	if err != nil {
		return err
	}
	moved := 0
	for {
		msgs, err := dlq.next(ctx)
		if err != nil {
			return fmt.Errorf("after %d moved: %w", moved, err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if err := sendBody(ctx, api, url, string(m.Body)); err != nil {
				return fmt.Errorf("send to %s after %d moved: %w", url, moved, err)
			}
			if err := dlq.delete(ctx, m); err != nil {
				return fmt.Errorf("after %d moved (message %s may now be on both queues; dedupe drops a duplicate input while its run holds the claim): %w", moved, m.ID, err)
			}
			moved++
		}
	}
	fmt.Fprintf(out, "moved %s: %s → %s%s\n", plural(moved, "message"), dlqURL, url, dlq.stopNote())
	return nil
}

// startMoveTask starts a move task from dlqURL to url. The destination is
// always named: the services park messages with a plain SendMessage, and
// for those SQS knows no source queue to return them to
// (CouldNotDetermineMessageSource). Any error, that one included, leaves
// the caller to move the messages itself.
func startMoveTask(ctx context.Context, api *sqs.Client, url, dlqURL string) error {
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	arns := make([]string, 2)
	for i, u := range []string{dlqURL, url} {
		attrs, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return fmt.Errorf("get arn of %s: %w", u, err)
		}
		arns[i] = attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	}
	if _, err := api.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(arns[0]), DestinationArn: aws.String(arns[1])}); err != nil {
		return fmt.Errorf("%w: %w", errNoMoveTask, err)
	}
	return nil
}

func sendBody(ctx context.Context, api *sqs.Client, url, body string) error {
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	_, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	return err
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// dlqReader receives a DLQ's messages for one redrive, through the
// consumer's queue code. It takes at most the number of messages the DLQ
// held when it was opened (or max, if lower), and each message id once, so
// that a message parked again while redrive runs — a new message to SQS —
// cannot keep the redrive going forever.
type dlqReader struct {
	q      *consumer.Queue
	held   int // messages in the DLQ at the start (approximate: visible + in flight)
	limit  int // messages to take: held, or max if lower
	budget int // messages still to take
	seen   map[string]bool
	hold   time.Duration // how long a received message stays invisible
	// budgetSpent: next stopped because limit messages were taken.
	budgetSpent bool
}

func openDLQ(ctx context.Context, api *sqs.Client, url string, max int) (*dlqReader, error) {
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	names := []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}
	res, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		return nil, fmt.Errorf("count the messages of %s: %w", url, err)
	}
	held := 0
	for _, n := range names {
		v, err := strconv.Atoi(res.Attributes[string(n)])
		if err != nil {
			return nil, fmt.Errorf("count the messages of %s: %s = %q", url, n, res.Attributes[string(n)])
		}
		held += v
	}
	limit := held
	if max > 0 && max < held {
		limit = max
	}
	return &dlqReader{q: &consumer.Queue{API: api, URL: url}, held: held, limit: limit, budget: limit, seen: map[string]bool{}, hold: holdFor}, nil
}

// next receives up to 10 messages not seen before. It returns none when the
// budget is spent, the DLQ is empty, or it only gave back messages already
// seen.
func (r *dlqReader) next(ctx context.Context) ([]consumer.Message, error) {
	if r.budget <= 0 {
		r.budgetSpent = true
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	msgs, err := r.q.Receive(ctx, min(10, r.budget), receiveWait, r.hold)
	if err != nil {
		return nil, err
	}
	var fresh []consumer.Message
	for _, m := range msgs {
		if r.seen[m.ID] {
			continue
		}
		r.seen[m.ID] = true
		fresh = append(fresh, m)
	}
	r.budget -= len(fresh)
	return fresh, nil
}

func (r *dlqReader) delete(ctx context.Context, m consumer.Message) error {
	if err := r.q.Delete(ctx, m); err != nil {
		return fmt.Errorf("%s: %w", r.q.URL, err)
	}
	return nil
}

// release makes msgs visible again at once.
func (r *dlqReader) release(ctx context.Context, msgs []consumer.Message) error {
	var errs []error
	for _, m := range msgs {
		if err := r.q.Release(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("make message %s visible again (it will be in %s): %w", m.ID, r.hold, err))
		}
	}
	return errors.Join(errs...)
}

// stopNote says, after a stop at the budget, that the DLQ may hold more.
func (r *dlqReader) stopNote() string {
	switch {
	case !r.budgetSpent:
		return ""
	case r.held == 0:
		return " (the DLQ was empty)"
	case r.limit < r.held:
		return fmt.Sprintf(" (--max %d reached; the DLQ held %d at the start)", r.limit, r.held)
	}
	return fmt.Sprintf(" (the %s the DLQ held at the start; any parked since are left for the next redrive)", plural(r.held, "message"))
}
