package main

// `sluicectl redrive` empties a dead-letter queue, in one of two ways:
//
//   - triggers and inputs: the messages go back to their queue as they are
//     (StartMessageMoveTask, or a client-side move where that API is
//     missing). They carry no attempt, so a moved-back message is simply
//     processed again.
//   - fetch and batches: moving back would lose the messages. By the time a
//     Fetch, Batch or Done is parked, the fetcher or writer has marked its
//     run FAILED, so the moved-back message carries a stale attempt and is
//     dropped as fenced. Instead, redrive sends one new Input per run
//     (source + window) to the inputs queue, and dedupe claims a new attempt.
//
// Both ways read the DLQ the same bounded way (dlqReader): at most the
// number of messages it held at the start, each message once, so that a
// message parked again while redrive runs cannot keep it going forever.

import (
	"context"
	"encoding/json"
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
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/queue"
)

const (
	// callTimeout bounds each SQS call.
	callTimeout = 15 * time.Second
	// holdFor is how long a received DLQ message stays invisible while
	// redrive handles it; messages it leaves are made visible again at the
	// end, so this only matters if sluicectl dies mid-way.
	holdFor = 5 * time.Minute
	// receiveWait is the long-poll wait, in seconds, that decides the DLQ
	// is empty.
	receiveWait = 1
	// listedKeys is how many re-triggered inputs the summary names.
	listedKeys = 10
)

func cmdRedrive(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	name := fs.String("queue", "", "triggers, inputs, fetch or batches (required)")
	max := fs.Int("max", 0, "handle at most this many DLQ messages (0: as many as the DLQ holds at the start); for triggers and inputs, moves them client-side")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !slices.Contains([]string{"triggers", "inputs", "fetch", "batches"}, *name) {
		return fmt.Errorf("--queue: %q, want triggers, inputs, fetch or batches", *name)
	}
	if *max < 0 {
		return fmt.Errorf("--max: %d is negative", *max)
	}
	url, err := env("SLUICE_" + strings.ToUpper(*name) + "_QUEUE_URL")
	if err != nil {
		return err
	}
	retrigger := *name == "fetch" || *name == "batches"
	var inputsURL string
	if retrigger {
		if inputsURL, err = env("SLUICE_INPUTS_QUEUE_URL"); err != nil {
			return err
		}
	}
	clients, err := awsconf.Load(ctx, zap.NewNop())
	if err != nil {
		return err
	}
	dlqURL := url + "-dlq"
	if retrigger {
		return redriveRuns(ctx, clients.SQS, *name, dlqURL, inputsURL, *max, out)
	}
	return redriveMove(ctx, clients.SQS, url, dlqURL, *max, out)
}

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
			if err := sendBody(ctx, api, url, aws.ToString(m.Body)); err != nil {
				return fmt.Errorf("send to %s after %d moved: %w", url, moved, err)
			}
			if err := dlq.delete(ctx, m); err != nil {
				return fmt.Errorf("after %d moved (message %s may now be on both queues; dedupe drops a duplicate input while its run holds the claim): %w", moved, aws.ToString(m.MessageId), err)
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
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
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
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	return err
}

// redriveRuns re-triggers the runs whose Fetch, Batch or Done messages are
// in the DLQ: one Input (trigger "redrive") per distinct source and window,
// sent to the inputs queue before the DLQ messages it covers are deleted.
// Messages that name no run stay in the DLQ.
func redriveRuns(ctx context.Context, api *sqs.Client, name, dlqURL, inputsURL string, max int, out io.Writer) (err error) {
	dlq, err := openDLQ(ctx, api, dlqURL, max)
	if err != nil {
		return err
	}
	var (
		pub     = queue.NewPublisher(api)
		handled int                 // DLQ messages received
		keys    []string            // inputs sent, in order
		sent    = map[string]bool{} // by input key
		left    []sqstypes.Message  // no run in them; stay in the DLQ
	)
	// Whatever happens, messages left behind become visible again now,
	// not after holdFor.
	defer func() {
		if rerr := dlq.release(ctx, left); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	for {
		msgs, err := dlq.next(ctx)
		if err != nil {
			return fmt.Errorf("after %d inputs re-triggered: %w", len(keys), err)
		}
		if len(msgs) == 0 {
			break
		}
		handled += len(msgs)
		var bodies [][]byte
		var covered []sqstypes.Message
		for _, m := range msgs {
			in, err := inputFor([]byte(aws.ToString(m.Body)))
			if err != nil {
				left = append(left, m)
				continue
			}
			covered = append(covered, m)
			if sent[in.Key()] {
				continue
			}
			body, err := json.Marshal(in)
			if err != nil {
				return err
			}
			sent[in.Key()] = true
			keys = append(keys, in.Key())
			bodies = append(bodies, body)
		}
		if len(bodies) > 0 {
			if err := pub.SendBatch(ctx, inputsURL, bodies); err != nil {
				return fmt.Errorf("re-trigger inputs (the DLQ messages they cover are kept; running redrive again is safe): %w", err)
			}
		}
		for _, m := range covered {
			if err := dlq.delete(ctx, m); err != nil {
				return fmt.Errorf("inputs %s re-triggered but a DLQ message they cover is kept (running redrive again is safe): %w", strings.Join(keys, ", "), err)
			}
		}
	}
	slices.Sort(keys)
	fmt.Fprintf(out, "redrive %s: %s → %s re-triggered%s; %d left%s\n",
		name, plural(handled, "DLQ message"), plural(len(keys), "input"), listKeys(keys), len(left), dlq.stopNote())
	if len(left) > 0 {
		fmt.Fprintf(out, "%s left in the DLQ: not a Sluice run message (no readable source and window)\n", plural(len(left), "message"))
	}
	if len(keys) > 0 {
		fmt.Fprintln(out, "dedupe claims a new attempt for each input whose run FAILED or whose lease expired; "+
			"an input whose run SUCCEEDED is not re-run (use `sluicectl trigger --force`), "+
			"and one still held by a live lease is dropped as a duplicate (redrive again once it expires)")
	}
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func listKeys(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	if len(keys) <= listedKeys {
		return " (" + strings.Join(keys, ", ") + ")"
	}
	return fmt.Sprintf(" (%s, … %d more)", strings.Join(keys[:listedKeys], ", "), len(keys)-listedKeys)
}

// inputFor returns the Input that reruns the run a fetch-queue or
// batches-queue message belongs to, checked as dedupe will check it.
func inputFor(body []byte) (contracts.Input, error) {
	source, window, err := runOf(body)
	if err != nil {
		return contracts.Input{}, err
	}
	in := contracts.NewInput(source, window, contracts.TriggerRedrive, false)
	b, err := json.Marshal(in)
	if err != nil {
		return contracts.Input{}, err
	}
	return contracts.DecodeInput(b)
}

// runOf reads the source and window of a Fetch, Batch or Done body. A body
// that does not fully decode (a damaged payload, an unknown field) still
// names its run if it has the two top-level fields.
func runOf(body []byte) (source, window string, err error) {
	if run, err := decodeRun(body); err == nil {
		return run.Source, run.Window, nil
	}
	if !gjson.ValidBytes(body) {
		return "", "", errors.New("not JSON")
	}
	f := gjson.GetManyBytes(body, "source", "window")
	if f[0].Type != gjson.String || f[1].Type != gjson.String {
		return "", "", errors.New("no source and window")
	}
	return f[0].Str, f[1].Str, nil
}

// decodeRun decodes a Fetch, Batch or Done body strictly and returns its run.
func decodeRun(body []byte) (contracts.Run, error) {
	kind, err := contracts.Kind(body)
	if err != nil {
		return contracts.Run{}, err
	}
	switch kind {
	case contracts.KindFetch:
		f, err := contracts.DecodeFetch(body)
		return f.Run, err
	case contracts.KindBatch:
		b, err := contracts.DecodeBatch(body)
		return b.Run, err
	case contracts.KindDone:
		d, err := contracts.DecodeDone(body)
		return d.Run, err
	}
	return contracts.Run{}, fmt.Errorf("message kind %q carries no run", kind)
}

// dlqReader receives a DLQ's messages for one redrive. It takes at most the
// number of messages the DLQ held when it was opened (or max, if lower), and
// each message id once, so that a message parked again while redrive runs
// — a new message to SQS — cannot keep the redrive going forever.
type dlqReader struct {
	api    *sqs.Client
	url    string
	held   int // messages in the DLQ at the start (approximate: visible + in flight)
	limit  int // messages to take: held, or max if lower
	budget int // messages still to take
	seen   map[string]bool
	// budgetSpent: next stopped because limit messages were taken.
	budgetSpent bool
}

func openDLQ(ctx context.Context, api *sqs.Client, url string, max int) (*dlqReader, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
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
	return &dlqReader{api: api, url: url, held: held, limit: limit, budget: limit, seen: map[string]bool{}}, nil
}

// next receives up to 10 messages not seen before. It returns none when the
// budget is spent, the DLQ is empty, or it only gave back messages already
// seen.
func (r *dlqReader) next(ctx context.Context) ([]sqstypes.Message, error) {
	if r.budget <= 0 {
		r.budgetSpent = true
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := r.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(r.url),
		MaxNumberOfMessages: int32(min(10, r.budget)),
		WaitTimeSeconds:     receiveWait,
		VisibilityTimeout:   int32(holdFor / time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", r.url, err)
	}
	var fresh []sqstypes.Message
	for _, m := range res.Messages {
		id := aws.ToString(m.MessageId)
		if r.seen[id] {
			continue
		}
		r.seen[id] = true
		fresh = append(fresh, m)
	}
	r.budget -= len(fresh)
	return fresh, nil
}

func (r *dlqReader) delete(ctx context.Context, m sqstypes.Message) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := r.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		return fmt.Errorf("delete message %s from %s: %w", aws.ToString(m.MessageId), r.url, err)
	}
	return nil
}

// release makes msgs visible again at once.
func (r *dlqReader) release(ctx context.Context, msgs []sqstypes.Message) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, m := range msgs {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		_, err := r.api.ChangeMessageVisibility(cctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(r.url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("make message %s visible again (it will be in %s): %w", aws.ToString(m.MessageId), holdFor, err))
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
	return fmt.Sprintf(" (the %d messages the DLQ held at the start; any parked since are left for the next redrive)", r.held)
}
