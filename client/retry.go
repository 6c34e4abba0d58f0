package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps how long a Retry-After header makes the client wait.
const maxRetryAfter = time.Minute

// backoff is the wait before retry number attempt (1 for the first):
// MinBackoff doubled attempt-1 times, capped at MaxBackoff, with jitter
// taking it down to half at random, so that clients cut off together do
// not come back together.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.MinBackoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// pause waits before retry number attempt: the server's Retry-After when
// the last answer was a 503 carrying one, else the backoff. It returns
// lastErr at once when ctx would end before the wait does: waiting would
// only turn the server's answer into a timeout.
func (c *Client) pause(ctx context.Context, attempt int, lastErr error) error {
	d := c.retry.backoff(attempt)
	var ue *unavailableError
	if errors.As(lastErr, &ue) && ue.after > 0 {
		d = ue.after
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return lastErr
	}
	return sleep(ctx, d)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryAfter parses a Retry-After header: seconds (fractions accepted) or
// an HTTP date; 0 when absent or unreadable.
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(h, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return min(time.Duration(s*float64(time.Second)), maxRetryAfter)
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}
