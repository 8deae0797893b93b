package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Only a scanned signed QR of the current print is a genuine, current label; every other code
// needs an entry reason and says what it did not prove.
func TestLabelAuthenticity(t *testing.T) {
	damaged := &EntryReason{Code: ReasonLabelDamaged}
	rotated := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	good := PrintKey{KeyID: "kA", Known: true, SignedPrint: true, SignedAt: rotated.Add(-time.Hour)}
	retiredBefore := good
	retiredBefore.RetiredAt = &rotated
	revoked := good
	revoked.RetiredAt, revoked.RevokedAt, revoked.RevokeReason = &rotated, &rotated, "key file copied to a laptop"
	otherPrint := good
	otherPrint.SignedPrint = false
	cases := []struct {
		name    string
		f       LabelFacts
		pass    bool
		want    string
		notWant string
	}{
		{"scanned signed QR, current print", LabelFacts{CodeKind: CodeQR, ScannedSerial: 2, CurrentSerial: 2, Key: good}, true, "genuine and is the bag's current print", ""},
		{"print signed before its key was retired", LabelFacts{CodeKind: CodeQR, ScannedSerial: 1, CurrentSerial: 1, Key: retiredBefore}, true, "genuine", ""},
		{"signed QR whose key signed another print", LabelFacts{CodeKind: CodeQR, ScannedSerial: 1, CurrentSerial: 1, Key: otherPrint}, false, "never signed this print", ""},
		{"signed QR whose key was revoked", LabelFacts{CodeKind: CodeQR, ScannedSerial: 1, CurrentSerial: 1, Key: revoked}, false, "was revoked on 2026-11-20 09:00 UTC (key file copied to a laptop)", ""},
		{"signed QR with no key on record", LabelFacts{CodeKind: CodeQR, ScannedSerial: 1, CurrentSerial: 1}, false, "no label key of this site", ""},
		{"QR of a replaced print", LabelFacts{CodeKind: CodeQR, ScannedSerial: 1, CurrentSerial: 2}, false, "print 2 replaced it", ""},
		{"refused by the label layer", LabelFacts{CodeKind: CodeQR, Refusal: "signature does not match"}, false, "signature does not match", ""},
		{"typed bag id with a reason", LabelFacts{CodeKind: CodeManual, CodeEntry: EntryTyped, Reason: damaged}, true,
			"typed by hand (reason: label damaged): the label's signature and print were not checked", "genuine"},
		{"typed bag id without a reason", LabelFacts{CodeKind: CodeManual}, false, "not proven", "genuine"},
		{"QR text typed by hand", LabelFacts{CodeKind: CodeQR, CodeEntry: EntryTyped, ScannedSerial: 1, CurrentSerial: 1, Key: good, Reason: damaged}, true, "typed by hand", "genuine"},
		{"QR text of a revoked key typed by hand", LabelFacts{CodeKind: CodeQR, CodeEntry: EntryTyped, ScannedSerial: 1, CurrentSerial: 1, Key: revoked, Reason: damaged}, false, "revoked", ""},
		{"ISBT 128 DataMatrix with a reason", LabelFacts{CodeKind: CodeISBT, Reason: &EntryReason{Code: ReasonScannerDown}}, true,
			"no signature and no print serial", "genuine"},
		{"ISBT 128 DataMatrix without a reason", LabelFacts{CodeKind: CodeISBT}, false, "not proven", "genuine"},
		{"typed wristband, scanned QR", LabelFacts{CodeKind: CodeQR, WristbandEntry: EntryTyped, ScannedSerial: 1, CurrentSerial: 1, Key: good,
			Reason: &EntryReason{Code: ReasonWristbandUnreadable}}, true, "wristband was typed by hand (reason: wristband unreadable)", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := LabelAuthenticity(tc.f)
			if c.Code != CheckLabelAuthentic || c.Pass != tc.pass || !strings.Contains(c.Message, tc.want) ||
				(tc.notWant != "" && strings.Contains(c.Message, tc.notWant)) {
				t.Fatalf("got %+v, want pass %v with %q", c, tc.pass, tc.want)
			}
		})
	}
}

// A signed label verifies only with the key that signed its print: a retired key only for
// prints it signed before it was retired, a revoked key for none.
func TestLabelKeyProblem(t *testing.T) {
	retired := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return retired.Add(d) }
	cases := []struct {
		name   string
		k      PrintKey
		reason string
		want   string
	}{
		{"active key that signed the print", PrintKey{KeyID: "kB", Known: true, SignedPrint: true, SignedAt: at(time.Hour)}, "", ""},
		{"retired key, print signed before", PrintKey{KeyID: "kA", Known: true, SignedPrint: true, SignedAt: at(-time.Minute), RetiredAt: &retired}, "", ""},
		{"retired key, print signed at the retirement", PrintKey{KeyID: "kA", Known: true, SignedPrint: true, SignedAt: retired, RetiredAt: &retired},
			KeyReasonRetired, "retired on 2026-11-20 09:00 UTC, before this print was signed"},
		{"retired key that never signed the print", PrintKey{KeyID: "kA", Known: true, RetiredAt: &retired}, KeyReasonNotPrint, "key kA never signed this print"},
		{"active key that never signed the print", PrintKey{KeyID: "kB", Known: true}, KeyReasonNotPrint, "never signed this print"},
		{"revoked key that signed the print", PrintKey{KeyID: "kA", Known: true, SignedPrint: true, SignedAt: at(-time.Hour), RetiredAt: &retired,
			RevokedAt: &retired, RevokeReason: "stolen"}, KeyReasonRevoked, "key kA was revoked on 2026-11-20 09:00 UTC (stolen), which voids every label it signed: the label must be reprinted"},
		{"unknown key", PrintKey{KeyID: "kZ"}, KeyReasonUnknown, "key kZ, which is no label key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason, problem := LabelKeyProblem(tc.k)
			if reason != tc.reason || !strings.Contains(problem, tc.want) || (tc.want == "") != (problem == "") {
				t.Fatalf("got %q %q, want %q with %q", reason, problem, tc.reason, tc.want)
			}
		})
	}
}

func TestValidateEntryReason(t *testing.T) {
	cases := []struct {
		name string
		f    LabelFacts
		ok   bool
		msg  string
	}{
		{"scanned QR needs none", LabelFacts{CodeKind: CodeQR, CodeEntry: EntryScanned}, true, ""},
		{"camera QR needs none", LabelFacts{CodeKind: CodeQR, CodeEntry: EntryCamera}, true, ""},
		{"typed id", LabelFacts{CodeKind: CodeManual}, false, "typed by hand"},
		{"typed QR text", LabelFacts{CodeKind: CodeQR, CodeEntry: EntryTyped}, false, "typed by hand"},
		{"ISBT 128 code", LabelFacts{CodeKind: CodeISBT}, false, "ISBT 128"},
		{"typed wristband", LabelFacts{CodeKind: CodeQR, WristbandEntry: EntryTyped}, false, "wristband was typed"},
		{"reason given", LabelFacts{CodeKind: CodeManual, Reason: &EntryReason{Code: ReasonScannerDown}}, true, ""},
		{"unknown reason", LabelFacts{CodeKind: CodeManual, Reason: &EntryReason{Code: "hurry"}}, false, "not an entry reason"},
		{"other without text", LabelFacts{CodeKind: CodeManual, Reason: &EntryReason{Code: ReasonOther, Text: " "}}, false, "say in text"},
		{"other with text", LabelFacts{CodeKind: CodeManual, Reason: &EntryReason{Code: ReasonOther, Text: "bag wet"}}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateEntryReason(tc.f)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var de *Error
			if !errors.As(err, &de) || de.Code != EInvalid || de.Field != "entry_reason" || !strings.Contains(de.Message, tc.msg) {
				t.Fatalf("got %v, want a 400 naming entry_reason with %q", err, tc.msg)
			}
		})
	}
}

func TestWitnessFromToken(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	good := WitnessTokenFacts{Found: true, ID: 4, UserID: 2, Name: "Nurse Two", Roles: []Role{RoleNurse}, IssuedTo: 1, ExpiresAt: now.Add(time.Minute)}
	if w := WitnessFromToken(good, 1, now); !w.Authenticated || w.TokenID != 4 || w.UserID != 2 {
		t.Fatalf("good token: %+v", w)
	}
	cases := []struct {
		name string
		edit func(*WitnessTokenFacts)
		msg  string
	}{
		{"unknown (a login token)", func(f *WitnessTokenFacts) { f.Found = false }, "never a witness"},
		{"used", func(f *WitnessTokenFacts) { f.Used = true }, "already used"},
		{"expired", func(f *WitnessTokenFacts) { f.ExpiresAt = now }, "expired"},
		{"issued on another device", func(f *WitnessTokenFacts) { f.IssuedTo = 9 }, "another user's device"},
		{"witness locked since", func(f *WitnessTokenFacts) { until := now.Add(time.Minute); f.LockedUntil = &until }, "is locked"},
		{"witness disabled since", func(f *WitnessTokenFacts) { f.DisabledAt, f.DisabledReason = &now, "left" }, "is disabled (left)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			tc.edit(&f)
			w := WitnessFromToken(f, 1, now)
			if w.Authenticated || !strings.Contains(w.Problem, tc.msg) {
				t.Fatalf("got %+v, want a refusal with %q", w, tc.msg)
			}
			fs := goodFacts()
			fs.Witness = w
			if v := VerifyBedside(fs); v.Pass {
				t.Fatal("the verification passed")
			}
		})
	}
	if p := WitnessProblem(1, "Nurse One", []Role{RoleNurse}, 1); !strings.Contains(p, "different person") {
		t.Fatal(p)
	}
	if p := WitnessProblem(3, "QC Three", []Role{RoleQC}, 1); !strings.Contains(p, "cannot witness") {
		t.Fatal(p)
	}
}
