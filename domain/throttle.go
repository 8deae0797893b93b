package domain

import (
	"fmt"
	"math"
	"time"
)

// Login throttling per client address (SPEC §10). The per-account lock stops guessing one
// password; spraying a few common passwords over many accounts never reaches it, so the
// failures of one client address are counted too, whichever accounts they named.
const (
	// LoginFailuresPerAddress is how many failed logins one client address may make within
	// LoginThrottleWindow before it must wait.
	LoginFailuresPerAddress = 10
	LoginThrottleWindow     = 15 * time.Minute
)

// Credentials is one login attempt: what was typed, and who sent it.
type Credentials struct {
	Username, Password string
	RequestID          string
	// ClientAddress is the client's IP address, for throttling; empty when unknown (a
	// command-line login), which is not throttled by address.
	ClientAddress string
}

// ThrottleLogin decides whether a client address must wait before its next login attempt.
// failures are the times of its failed logins, oldest first; those older than the window no
// longer count. At the limit the answer is ETooManyRequests with the time until the oldest
// counted failure leaves the window, so that the next attempt is allowed.
func ThrottleLogin(failures []time.Time, now time.Time) error {
	var recent []time.Time
	for _, f := range failures {
		if now.Sub(f) < LoginThrottleWindow {
			recent = append(recent, f)
		}
	}
	if len(recent) < LoginFailuresPerAddress {
		return nil
	}
	// The attempt is allowed again when only LoginFailuresPerAddress-1 failures are left in
	// the window: when the one that many places before the newest has aged out.
	gate := recent[len(recent)-LoginFailuresPerAddress]
	wait := gate.Add(LoginThrottleWindow).Sub(now)
	seconds := int(math.Ceil(wait.Seconds()))
	if seconds < 1 {
		seconds = 1
	}
	return &Error{Code: ETooManyRequests, RetryAfter: time.Duration(seconds) * time.Second,
		Message: fmt.Sprintf("too many failed logins from this device (%d in %d minutes): wait %s before trying again, or ask an admin if you have forgotten your password",
			len(recent), int(LoginThrottleWindow.Minutes()), waitText(seconds))}
}

// waitText says a wait in whole minutes, or in seconds when under one.
func waitText(seconds int) string {
	if seconds < 60 {
		return fmt.Sprintf("%d seconds", seconds)
	}
	minutes := (seconds + 59) / 60
	if minutes == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", minutes)
}
