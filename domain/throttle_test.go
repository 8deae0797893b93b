package domain

import (
	"strings"
	"testing"
	"time"
)

func TestThrottleLogin(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	every := func(n int, gap time.Duration, newest time.Time) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = newest.Add(-time.Duration(n-1-i) * gap)
		}
		return out
	}
	cases := []struct {
		name     string
		failures []time.Time
		wait     time.Duration // 0: allowed
	}{
		{"none", nil, 0},
		{"one short of the limit", every(LoginFailuresPerAddress-1, time.Second, now), 0},
		{"at the limit, the oldest 10 s ago", every(LoginFailuresPerAddress, time.Second, now.Add(-time.Second)), LoginThrottleWindow - 10*time.Second},
		{"over the limit: the wait follows the one that must age out", every(LoginFailuresPerAddress+5, time.Minute, now), LoginThrottleWindow - time.Duration(LoginFailuresPerAddress-1)*time.Minute},
		{"older failures no longer count", append(every(20, time.Second, now.Add(-LoginThrottleWindow)), every(LoginFailuresPerAddress-1, time.Second, now)...), 0},
		{"a wait under a second is a second", every(LoginFailuresPerAddress, 0, now.Add(-LoginThrottleWindow+time.Millisecond)), time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ThrottleLogin(tc.failures, now)
			if tc.wait == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if ErrorCode(err) != ETooManyRequests || ErrorRetryAfter(err) != tc.wait {
				t.Fatalf("got %v (retry after %s), want %s to wait", err, ErrorRetryAfter(err), tc.wait)
			}
			if !strings.Contains(ErrorMessage(err), "wait ") {
				t.Errorf("the message does not say how long to wait: %q", ErrorMessage(err))
			}
		})
	}
}
