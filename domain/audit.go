package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
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
	h := sha256.New()
	e.writeCanonical(h)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func (e AuditEntry) writeCanonical(h hash.Hash) {
	var buf []byte
	field := func(s string) {
		buf = strconv.AppendInt(buf[:0], int64(len(s)), 10)
		buf = append(buf, ':')
		h.Write(buf)
		h.Write([]byte(s))
	}
	field(auditVersion)
	field(strconv.FormatInt(e.Seq, 10))
	field(AuditTime(e.At).Format(auditTimeLayout))
	field(strconv.FormatInt(e.UserID, 10))
	field(e.UserName)
	field(string(e.Role))
	field(e.Action)
	field(e.EntityType)
	field(e.EntityID)
	field(e.Before)
	field(e.After)
	field(e.Reason)
	field(e.RequestID)
	field(e.PrevHash)
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
// entries is verified while streaming it from the database.
type ChainVerifier struct {
	prevSeq  int64
	prevHash string
	report   ChainReport
}

// NewChainVerifier starts a check at the genesis of the chain.
func NewChainVerifier() *ChainVerifier {
	return &ChainVerifier{prevHash: GenesisHash, report: ChainReport{OK: true}}
}

// Add checks the next entry. After the first break it only counts entries, so the report
// names the earliest one that does not match.
func (v *ChainVerifier) Add(e AuditEntry) {
	v.report.Entries++
	if !v.report.OK {
		return
	}
	var problem string
	switch {
	case e.Seq != v.prevSeq+1:
		problem = "sequence jumps from " + strconv.FormatInt(v.prevSeq, 10) + " to " + strconv.FormatInt(e.Seq, 10) + ": entries are missing"
	case e.PrevHash != v.prevHash:
		problem = "prev_hash does not match the hash of the entry before: an entry was removed or reordered"
	case e.ComputeHash() != e.Hash:
		problem = "hash does not match the entry's content: the entry was altered"
	}
	if problem != "" {
		seq := e.Seq
		v.report.OK, v.report.FirstBad, v.report.Problem = false, &seq, problem
		return
	}
	v.prevSeq, v.prevHash = e.Seq, e.Hash
}

// Report returns the outcome so far.
func (v *ChainVerifier) Report() ChainReport { return v.report }
