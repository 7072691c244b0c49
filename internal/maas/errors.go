/*
Copyright 2026 The maas-gateway Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package maas

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	gomaasapi "github.com/juju/gomaasapi/v2"
)

// Class is what a controller needs to know about a failure to decide what
// to do next. Controllers branch on it, never on error text.
type Class int

const (
	// ClassUnknown is anything not recognised below; treat as a bug or a
	// MAAS behaviour this package does not know yet.
	ClassUnknown Class = iota
	// ClassUnauthorized: 401 or 403, bad or under-privileged credentials. Do not retry until the key changes.
	ClassUnauthorized
	// ClassNoCapacity: 409 on allocate, no Ready machine matches the constraints. Wait and retry with backoff.
	ClassNoCapacity
	// ClassConflict: 409 on any other operation, the machine is in a state that forbids it.
	ClassConflict
	// ClassNotFound: 404, the machine (or other object) does not exist.
	ClassNotFound
	// ClassInvalid: 400, or a request this package refuses to send because its input is wrong.
	ClassInvalid
	// ClassTransient: 5xx, network errors and timeouts. Retry with backoff.
	ClassTransient
	// ClassNotOwned: the machine does not carry this installation's agent_name;
	// this package never deploys, releases or aborts such a machine.
	ClassNotOwned
)

var classNames = [...]string{
	ClassUnknown:      "unknown",
	ClassUnauthorized: "unauthorized",
	ClassNoCapacity:   "no capacity",
	ClassConflict:     "conflict",
	ClassNotFound:     "not found",
	ClassInvalid:      "invalid",
	ClassTransient:    "transient",
	ClassNotOwned:     "not owned",
}

func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
	return classNames[c]
}

// maxMessageLen bounds how much of a MAAS response body an error carries:
// enough for any MAAS message (constraint lists included), not an HTML page.
const maxMessageLen = 1024

// Error is every error this package returns for a MAAS call. It keeps
// MAAS's own message and wraps the original error (a gomaasapi.ServerError
// for most HTTP errors, a network error otherwise) for errors.As; the
// machine lists, which this package reads itself, wrap an error of their
// own: StatusCode is the way to read any HTTP status.
type Error struct {
	// Class says what kind of failure this is.
	Class Class
	// Op names the operation, e.g. "allocate" or "list machines".
	Op string
	// SystemID is the machine concerned, if any.
	SystemID string
	// StatusCode is the HTTP status MAAS answered with, 0 if none.
	StatusCode int
	// Message is MAAS's message (the response body) or a description of
	// the local failure. It never contains the API key.
	Message string
	// Reason refines Class for address reservations (ReasonAddressInUse…),
	// so a controller can say which rule MAAS applied; empty otherwise.
	Reason Reason
	// Holder names who holds a contested address or range, read from
	// MAAS's own records (the marks of the range covering it) right after
	// MAAS refused: nil when MAAS names nobody this package can read.
	Holder *Marks
	// Err is the original error.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("maas ")
	b.WriteString(e.Op)
	if e.SystemID != "" {
		b.WriteString(" ")
		b.WriteString(e.SystemID)
	}
	b.WriteString(": ")
	b.WriteString(e.Class.String())
	if e.StatusCode != 0 {
		b.WriteString(" (HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Classify returns the class of err: the Class of an *Error in its chain,
// or one derived from a gomaasapi.ServerError or a network error.
func Classify(err error) Class {
	if err == nil {
		return ClassUnknown
	}
	if me, ok := errors.AsType[*Error](err); ok {
		return me.Class
	}
	return classifyRaw("", err)
}

// IsUnauthorized reports whether err is ClassUnauthorized.
func IsUnauthorized(err error) bool { return err != nil && Classify(err) == ClassUnauthorized }

// IsNoCapacity reports whether err is ClassNoCapacity.
func IsNoCapacity(err error) bool { return err != nil && Classify(err) == ClassNoCapacity }

// IsConflict reports whether err is ClassConflict.
func IsConflict(err error) bool { return err != nil && Classify(err) == ClassConflict }

// IsNotFound reports whether err is ClassNotFound.
func IsNotFound(err error) bool { return err != nil && Classify(err) == ClassNotFound }

// IsInvalid reports whether err is ClassInvalid.
func IsInvalid(err error) bool { return err != nil && Classify(err) == ClassInvalid }

// IsTransient reports whether err is ClassTransient.
func IsTransient(err error) bool { return err != nil && Classify(err) == ClassTransient }

// IsNotOwned reports whether err is ClassNotOwned.
func IsNotOwned(err error) bool { return err != nil && Classify(err) == ClassNotOwned }

// opAllocate is the one operation whose 409 means "no capacity".
const opAllocate = "allocate"

// classifyRaw classifies an error from gomaasclient for operation op.
func classifyRaw(op string, err error) Class {
	if se, ok := serverError(err); ok {
		return classifyStatus(op, se.StatusCode)
	}
	var certErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	switch {
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &invalidCert):
		// A certificate MAAS's CA bundle does not vouch for is a configuration error, not a blip.
		return ClassInvalid
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ClassTransient
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassTransient
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return ClassTransient
	}
	if netErr, ok := errors.AsType[net.Error](err); ok && netErr.Timeout() {
		return ClassTransient
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return ClassTransient
	}
	return ClassUnknown
}

func classifyStatus(op string, code int) Class {
	switch {
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return ClassUnauthorized
	case code == http.StatusNotFound:
		return ClassNotFound
	case code == http.StatusBadRequest:
		return ClassInvalid
	case code == http.StatusConflict && op == opAllocate:
		return ClassNoCapacity
	case code == http.StatusConflict:
		return ClassConflict
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500 && code <= 599:
		return ClassTransient
	}
	return ClassUnknown
}

// httpAnswer is what this package reads of a non-2xx answer.
type httpAnswer struct {
	StatusCode  int
	BodyMessage string
}

// serverError finds the HTTP answer in err's chain: a gomaasapi.ServerError
// (which gomaasapi wraps with juju/errors, whose Err unwraps for the
// standard library), or the statusError of a list this package sent.
func serverError(err error) (httpAnswer, bool) {
	if se, ok := errors.AsType[gomaasapi.ServerError](err); ok {
		return httpAnswer{StatusCode: se.StatusCode, BodyMessage: se.BodyMessage}, true
	}
	if se, ok := errors.AsType[*statusError](err); ok {
		return httpAnswer{StatusCode: se.StatusCode, BodyMessage: se.Body}, true
	}
	return httpAnswer{}, false
}

// newError turns an error from gomaasclient into an *Error for op, taking
// MAAS's message from the response body. redact lists strings (the key's
// public parts) that must not appear in the message: MAAS echoes the token
// key in some 401 bodies.
func newError(op, systemID string, err error, redact ...string) *Error {
	if me, ok := errors.AsType[*Error](err); ok {
		return me
	}
	e := &Error{Class: classifyRaw(op, err), Op: op, SystemID: systemID, Err: err}
	if se, ok := serverError(err); ok {
		e.StatusCode = se.StatusCode
		e.Message = strings.TrimSpace(se.BodyMessage)
		if e.Message == "" {
			e.Message = http.StatusText(se.StatusCode)
		}
	} else {
		e.Message = describeLocal(err)
	}
	for _, r := range redact {
		if r != "" {
			e.Message = strings.ReplaceAll(e.Message, r, "<redacted>")
		}
	}
	if len(e.Message) > maxMessageLen {
		e.Message = e.Message[:maxMessageLen] + "…"
	}
	return e
}

// describeLocal describes a failure that has no MAAS response. The
// url.Error net/http returns repeats method and URL, noise next to the
// endpoint the caller already knows: keep its cause.
func describeLocal(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

// MayHaveActed reports whether a failed write may have been carried out by
// MAAS though no answer said so: the request was sent, and what came back
// (a timeout, a reset or dropped connection, a 5xx from MAAS or from a
// proxy in front of it) does not say it was refused. A 4xx answer, a
// request this package declined to send, one that waited for the rate
// limit and was never sent, and a connection never made are not.
func MayHaveActed(err error) bool {
	if err == nil {
		return false
	}
	if se, ok := serverError(err); ok {
		return se.StatusCode >= 500
	}
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Op == "dial" {
		return false
	}
	// net/http wraps every failure of a request it sent, or was sending,
	// in a url.Error; errors of this package's own (refusals, the rate
	// limiter) are not.
	_, sent := errors.AsType[*url.Error](err)
	return sent
}

// refusal builds an *Error for a request this package declines to send.
func refusal(class Class, op, systemID, msg string) *Error {
	return &Error{Class: class, Op: op, SystemID: systemID, Message: msg}
}
