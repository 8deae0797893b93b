package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// AuditEntry is one line of the tamper-evident trail (SPEC §10). Entries are chained: each
// carries the hash of the one before, so altering, removing or reordering any entry breaks
// every hash after it.
type AuditEntry struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	UserID     int64     `json:"user_id,omitempty"` // 0: the system
	UserName   string    `json:"user_name"`         // printed name at the time of the action
	Role       Role      `json:"role"`
	Action     string    `json:"action"`
	EntityType string    `json:"entity_type"`
	EntityID   string    `json:"entity_id"`
	Before     string    `json:"before,omitempty"` // JSON of the entity before, "" on create
	After      string    `json:"after,omitempty"`  // JSON of the entity after, "" on delete
	Reason     string    `json:"reason,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	PrevHash   string    `json:"prev_hash"`
	Hash       string    `json:"hash"`
	// Withheld says why Before and After are not shown to this reader (WithoutPatientIdentity);
	// it is not part of the entry and not hashed.
	Withheld string `json:"withheld,omitempty"`
}

// GenesisHash is the PrevHash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditTime is the precision at which entries are timed. Both databases keep microseconds, so
// a time read back hashes to the same bytes it was written with.
func AuditTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

const auditTimeLayout = "2006-01-02T15:04:05.000000Z"

// ComputeHash returns the SHA-256 (hex) of the entry's content and PrevHash. Each field is
// written with its length first, so no two different entries encode to the same bytes.
func (e AuditEntry) ComputeHash() string {
	sum := sha256.Sum256(e.appendCanonical(nil))
	return hex.EncodeToString(sum[:])
}

// hashMatches reports whether e.Hash is the hash of e's content, encoding into buf (returned
// for reuse) so that checking a long trail allocates nothing per entry.
func (e *AuditEntry) hashMatches(buf []byte) (bool, []byte) {
	buf = e.appendCanonical(buf[:0])
	sum := sha256.Sum256(buf)
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], sum[:])
	return string(hexSum[:]) == e.Hash, buf
}

// appendAuditTime appends AuditTime(t) in auditTimeLayout; written out by hand because
// time.Format's general layout parsing was a tenth of the CPU of checking a trail.
func appendAuditTime(buf []byte, t time.Time) []byte {
	t = AuditTime(t)
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(buf, auditTimeLayout)
	}
	hour, min, sec := t.Clock()
	digits := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			buf = append(buf, 0)
		}
		for i := len(buf) - 1; n > 0; i, n = i-1, n-1 {
			buf[i] = byte('0' + v%10)
			v /= 10
		}
	}
	digits(year, 4)
	buf = append(buf, '-')
	digits(int(month), 2)
	buf = append(buf, '-')
	digits(day, 2)
	buf = append(buf, 'T')
	digits(hour, 2)
	buf = append(buf, ':')
	digits(min, 2)
	buf = append(buf, ':')
	digits(sec, 2)
	buf = append(buf, '.')
	digits(t.Nanosecond()/1000, 6)
	return append(buf, 'Z')
}

// appendCanonical appends the bytes the hash is computed over to buf.
func (e *AuditEntry) appendCanonical(buf []byte) []byte {
	var scratch [32]byte
	field := func(b []byte) {
		buf = strconv.AppendInt(buf, int64(len(b)), 10)
		buf = append(buf, ':')
		buf = append(buf, b...)
	}
	str := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
	}
	str(auditVersion)
	field(strconv.AppendInt(scratch[:0], e.Seq, 10))
	field(appendAuditTime(scratch[:0], e.At))
	field(strconv.AppendInt(scratch[:0], e.UserID, 10))
	str(e.UserName)
	str(string(e.Role))
	str(e.Action)
	str(e.EntityType)
	str(e.EntityID)
	str(e.Before)
	str(e.After)
	str(e.Reason)
	str(e.RequestID)
	str(e.PrevHash)
	return buf
}

const auditVersion = "cordtrace-audit-v1"

// Seal sets Seq, PrevHash and Hash so that e follows prev in the chain. prev is nil for the
// first entry.
func (e *AuditEntry) Seal(prev *AuditEntry) {
	e.At = AuditTime(e.At)
	if prev == nil {
		e.Seq, e.PrevHash = 1, GenesisHash
	} else {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	e.Hash = e.ComputeHash()
}

// ChainReport is the outcome of checking the whole trail.
type ChainReport struct {
	OK       bool   `json:"ok"`
	Entries  int64  `json:"entries"`
	FirstBad *int64 `json:"first_bad"`         // seq of the first entry that does not match
	Problem  string `json:"problem,omitempty"` // why it does not match, for people
}

// ChainVerifier checks entries one at a time, in seq order, so that a trail of millions of
// entries is verified while streaming it from the database. A trail may also be checked in
// consecutive stretches at once, one verifier each (NewChainSegmentVerifier), joined in order
// with Join: each checks its own links, and Join checks the link between them.
type ChainVerifier struct {
	// segment: the first entry's link is not checked by Add; Join checks it against the
	// stretch before.
	segment   bool
	started   bool
	firstSeq  int64
	firstPrev string
	prevSeq   int64
	prevHash  string
	report    ChainReport
	buf       []byte
}

// NewChainVerifier starts a check at the genesis of the chain.
func NewChainVerifier() *ChainVerifier {
	return &ChainVerifier{prevHash: GenesisHash, report: ChainReport{OK: true}}
}

// NewChainSegmentVerifier checks a stretch of the chain that starts after its genesis: the
// link of its first entry to the entry before is checked when it is joined to the verifier of
// the stretch before (Join).
func NewChainSegmentVerifier() *ChainVerifier {
	return &ChainVerifier{segment: true, report: ChainReport{OK: true}}
}

// Add checks the next entry. After the first break it only counts entries, so the report
// names the earliest one that does not match.
func (v *ChainVerifier) Add(e AuditEntry) {
	v.report.Entries++
	if !v.report.OK {
		return
	}
	first := !v.started
	if first {
		v.started, v.firstSeq, v.firstPrev = true, e.Seq, e.PrevHash
	}
	var problem string
	if !first || !v.segment {
		problem = linkProblem(v.prevSeq, v.prevHash, e.Seq, e.PrevHash)
	}
	if problem == "" {
		var ok bool
		ok, v.buf = e.hashMatches(v.buf)
		if !ok {
			problem = "hash does not match the entry's content: the entry was altered"
		}
	}
	if problem != "" {
		v.fail(e.Seq, problem)
		return
	}
	v.prevSeq, v.prevHash = e.Seq, e.Hash
}

// linkProblem says why an entry (seq, prevHash) cannot follow the entry (prevSeq, hash), or "".
func linkProblem(prevSeq int64, hash string, seq int64, prevHash string) string {
	switch {
	case seq != prevSeq+1:
		return "sequence jumps from " + strconv.FormatInt(prevSeq, 10) + " to " + strconv.FormatInt(seq, 10) + ": entries are missing"
	case prevHash != hash:
		return "prev_hash does not match the hash of the entry before: an entry was removed or reordered"
	}
	return ""
}

func (v *ChainVerifier) fail(seq int64, problem string) {
	v.report.OK, v.report.FirstBad, v.report.Problem = false, &seq, problem
}

// Join takes in the outcome of next, the verifier of the stretch that follows v's, as if v had
// read next's entries itself: the report names the earliest break of the two, or the link
// between them.
func (v *ChainVerifier) Join(next *ChainVerifier) {
	entries := v.report.Entries + next.report.Entries
	defer func() { v.report.Entries = entries }()
	if !v.report.OK || !next.started {
		return
	}
	if !v.started && v.segment {
		v.segment, v.started, v.firstSeq, v.firstPrev = next.segment, true, next.firstSeq, next.firstPrev
	} else if problem := linkProblem(v.prevSeq, v.prevHash, next.firstSeq, next.firstPrev); next.segment && problem != "" {
		v.fail(next.firstSeq, problem)
		return
	}
	v.started = true
	v.prevSeq, v.prevHash, v.report = next.prevSeq, next.prevHash, next.report
}

// Report returns the outcome so far.
func (v *ChainVerifier) Report() ChainReport { return v.report }
