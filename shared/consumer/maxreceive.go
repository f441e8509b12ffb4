package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
)

// NewQueue returns the queue at url as cfg configures it. Its MaxReceive
// is read from the queue's redrive policy, so that it cannot drift from the
// queue; where that fails (no policy, no permission, an emulator) it is
// cfg.MaxReceive, and the reason is logged.
func NewQueue(ctx context.Context, log *zap.Logger, api SQSAPI, url string, cfg Config) *Queue {
	q := &Queue{API: api, URL: url, DLQURL: cfg.DLQURL, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax, MaxReceive: cfg.MaxReceive}
	n, err := ReadMaxReceive(ctx, api, url)
	if err != nil {
		log.Warn("queue's maxReceiveCount unknown; using SLUICE_MAX_RECEIVE", zap.String("queue", url),
			zap.Int("max_receive", cfg.MaxReceive), zap.Error(err))
		return q
	}
	if n != cfg.MaxReceive {
		log.Info("queue's maxReceiveCount differs from SLUICE_MAX_RECEIVE; using the queue's", zap.String("queue", url),
			zap.Int("max_receive", n), zap.Int("sluice_max_receive", cfg.MaxReceive))
	}
	q.MaxReceive = n
	return q
}

// maxReceiveTimeout bounds the start-up read of the redrive policy.
const maxReceiveTimeout = 2 * time.Second

// ErrNoRedrivePolicy: the queue has no redrive policy.
var ErrNoRedrivePolicy = errors.New("queue has no redrive policy")

// ReadMaxReceive returns the maxReceiveCount of the redrive policy of the
// queue at url (GetQueueAttributes).
func ReadMaxReceive(ctx context.Context, api SQSAPI, url string) (int, error) {
	// Short: on Lambda this runs in the init phase, which has 10s in all;
	// a slow answer falls back to SLUICE_MAX_RECEIVE instead.
	ctx, cancel := context.WithTimeout(ctx, maxReceiveTimeout)
	defer cancel()
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return 0, fmt.Errorf("redrive policy of %s: %w", url, err)
	}
	raw, ok := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if !ok || raw == "" {
		return 0, fmt.Errorf("redrive policy of %s: %w", url, ErrNoRedrivePolicy)
	}
	return parseMaxReceive(raw)
}

// parseMaxReceive reads maxReceiveCount from a redrive policy, a number or
// a string of one (both are seen).
func parseMaxReceive(policy string) (int, error) {
	var p struct {
		MaxReceiveCount json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		return 0, fmt.Errorf("redrive policy %q: %w", policy, err)
	}
	n, err := strconv.Atoi(strings.Trim(string(p.MaxReceiveCount), `"`))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("redrive policy %q: no maxReceiveCount >= 1", policy)
	}
	return n, nil
}

// last says whether a message received receives times is on the last
// delivery the consumer acts on, on a queue that allows maxReceive (0:
// unknown, never): the one before the queue's last, or any later one (see
// Message.Last). Acting one delivery early means the queue's own move to
// the DLQ, which carries no reason and tells no run, only happens to a
// message whose process died on both of its last two deliveries.
func last(receives, maxReceive int) bool {
	return maxReceive > 0 && receives >= max(maxReceive-1, 1)
}

// final says whether a message received receives times is on the queue's
// own last delivery (see Message.Final).
func final(receives, maxReceive int) bool {
	return maxReceive > 0 && receives >= maxReceive
}
