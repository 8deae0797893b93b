package domain

import (
	"strings"
	"testing"
)

func TestParseAndValidateAllocations(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		rows      int
		field     string
		want      string // in the message; "" means accepted
	}{
		{"header and strata", "sequence,arm,stratum\n1,huc_msc,A\n2,routine,A\n\n3,routine,B\n", 3, "", ""},
		{"no header", "1,huc_msc\n2,routine\n", 2, "", ""},
		{"empty", "sequence,arm\n", 0, "rows", "empty"},
		{"duplicate sequence", "sequence,arm\n1,huc_msc\n2,routine\n1,routine\n", 3, "rows", "line 4: sequence 1 appears twice (first on line 2)"},
		{"unknown arm", "1,huc_msc\n2,placebo\n", 2, "rows", `line 2: arm "placebo" is not an arm`},
		{"sequence not a number", "1,huc_msc\nx,routine\n", 0, "csv", `line 2: sequence "x" is not a whole number`},
		{"sequence zero", "0,huc_msc\n", 1, "rows", "line 1: sequence 0 must be a whole number from 1"},
		{"too many fields", "1,huc_msc,A,extra\n", 0, "csv", "line 1: expected sequence,arm"},
		{"long stratum", "1,huc_msc," + strings.Repeat("s", 41) + "\n", 1, "rows", "line 1: stratum is longer than 40"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseAllocationCSV(tc.csv)
			if err == nil {
				if len(rows) != tc.rows {
					t.Fatalf("parsed %d rows, want %d", len(rows), tc.rows)
				}
				err = ValidateAllocations(rows)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if ErrorCode(err) != EInvalid || ErrorField(err) != tc.field || !strings.Contains(ErrorMessage(err), tc.want) {
				t.Fatalf("got %v (field %q), want %s on %s", err, ErrorField(err), tc.want, tc.field)
			}
		})
	}
}

// Rows sent as JSON have no line number: they are counted from 1.
func TestValidateAllocationsNumbersJSONRows(t *testing.T) {
	err := ValidateAllocations([]Allocation{{Sequence: 5, Arm: ArmHUCMSC}, {Sequence: 5, Arm: ArmRoutine}})
	if !strings.Contains(ErrorMessage(err), "line 2: sequence 5 appears twice (first on line 1)") {
		t.Fatal(err)
	}
}

// The hash is of the canonical CSV, so the same list hashes the same however it was sent.
func TestAllocationSHA256(t *testing.T) {
	a, _ := ParseAllocationCSV("sequence,arm,stratum\r\n1, huc_msc\r\n2,routine,B\r\n")
	b := []Allocation{{Sequence: 1, Arm: ArmHUCMSC}, {Sequence: 2, Arm: ArmRoutine, Stratum: "B"}}
	// sha256 of "sequence,arm,stratum\n1,huc_msc,\n2,routine,B\n"
	const want = "00ba00139cc3b61a20e0e806ec78721f23d67c567ccfeef5da360ef8923ea258"
	if AllocationSHA256(a) != AllocationSHA256(b) {
		t.Fatalf("%s != %s", AllocationSHA256(a), AllocationSHA256(b))
	}
	if got := AllocationSHA256(b); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
}

func TestCheckEnrolmentArm(t *testing.T) {
	for _, tc := range []struct {
		inUse bool
		arm   Arm
		code  string
	}{
		{true, "", ""},
		{true, ArmHUCMSC, ERuleViolated},
		{false, ArmRoutine, ""},
		{false, "", EInvalid},
		{false, "placebo", EInvalid},
	} {
		if got := ErrorCode(CheckEnrolmentArm(tc.inUse, tc.arm)); got != tc.code {
			t.Errorf("in use %v, arm %q: %q, want %q", tc.inUse, tc.arm, got, tc.code)
		}
	}
	if ErrorCode(CheckSecondList(1)) != EConflict || CheckSecondList(0) != nil {
		t.Error("a second list is refused only while the first has unused allocations")
	}
}
