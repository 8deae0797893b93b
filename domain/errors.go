// Package domain holds cordtrace's types and rules: plain Go, no HTTP, no SQL.
// Every rule the trial depends on lives here so that it can be tested in a table.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each code names what kind of thing went wrong, so that the API can map it to a
// status in one table and a client can branch on it without parsing messages.
const (
	EInvalid         = "invalid"           // the input is malformed or breaks a field rule
	EUnauthenticated = "unauthenticated"   // no valid session, or wrong credentials
	EAccountLocked   = "account_locked"    // too many failed logins
	EAccountDisabled = "account_disabled"  // an admin disabled the account
	EForbidden       = "forbidden"         // authenticated, but the role does not allow it
	ENotFound        = "not_found"         // the entity does not exist
	EConflict        = "conflict"          // wrong state, or a duplicate of something unique
	ERuleViolated    = "rule_violated"     // well-formed, but a domain rule refuses it
	ETooLarge        = "too_large"         // the request body is over the limit
	ETooManyRequests = "too_many_requests" // the client must wait before trying again (Error.RetryAfter)
	EUnavailable     = "unavailable"       // the database cannot be reached right now
	EInternal        = "internal"          // a bug: logged, never shown in detail
)

// Error is a domain error: a code for machines, a message for people. Message says what was
// wrong and what to do; Field names the input field at fault, when there is one.
type Error struct {
	Code    string
	Message string
	Field   string
	// RetryAfter is how long the client must wait before trying again (ETooManyRequests).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EInvalid error that names the field at fault.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the message of the first *Error in err's chain. Other errors are bugs or
// infrastructure failures whose text may leak internals, so they get a generic sentence.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred. It has been logged; try again, and report it if it persists."
}

// ErrorRetryAfter returns how long the first *Error in err's chain asks the client to wait, or 0.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ErrorField returns the field named by the first *Error in err's chain, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
