package domain

import (
	"fmt"
	"time"
)

// Why a signed label's key does not vouch for its print (LabelKeyProblem); /labels/verify
// answers them as its reason.
const (
	KeyReasonUnknown  = "unknown_key"
	KeyReasonRevoked  = "key_revoked"
	KeyReasonNotPrint = "wrong_key"
	KeyReasonRetired  = "key_retired"
)

// PrintKey is what the records say of the key a signed label names (K), for the print the
// label names (its entity and serial P).
type PrintKey struct {
	KeyID string
	// Known: a label key with that id exists.
	Known bool
	// SignedPrint: the key signed a copy of that print; SignedAt is when it first did.
	SignedPrint bool
	SignedAt    time.Time
	// RetiredAt and RevokedAt are when the key was retired and revoked, nil if it was not.
	RetiredAt, RevokedAt *time.Time
	RevokeReason         string
}

// LabelKeyProblem decides whether the key that signed a label vouches for the print the label
// names (SPEC §8): only a key that signed that very print does, a retired key only for prints
// it signed before it was retired, and a revoked key for none. A signature alone is not enough:
// a key's private half may have leaked, and whoever holds it could sign any print. It returns
// "" when the key vouches, otherwise a reason (KeyReason*) and the problem in words.
func LabelKeyProblem(k PrintKey) (reason, problem string) {
	switch {
	case !k.Known:
		return KeyReasonUnknown, fmt.Sprintf("the label names key %s, which is no label key of this site", k.KeyID)
	case k.RevokedAt != nil:
		return KeyReasonRevoked, fmt.Sprintf("the label's signing key %s was revoked on %s (%s), which voids every label it signed: the label must be reprinted",
			k.KeyID, k.RevokedAt.UTC().Format("2006-01-02 15:04 UTC"), k.RevokeReason)
	case !k.SignedPrint:
		return KeyReasonNotPrint, fmt.Sprintf("key %s never signed this print of the label, so the label is not one we printed", k.KeyID)
	case k.RetiredAt != nil && !k.SignedAt.Before(*k.RetiredAt):
		return KeyReasonRetired, fmt.Sprintf("key %s was retired on %s, before this print was signed, so the label is not one we printed",
			k.KeyID, k.RetiredAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return "", ""
}
