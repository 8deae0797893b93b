package fhir

import (
	"strconv"
	"time"

	"cordtrace/domain"
)

// Resource is one mapped resource with its type and id.
type Resource struct {
	Type string
	ID   string
	Body any
}

// Resources maps every record to FHIR, in a stable order: patients, units, dose bags,
// dispatches, infusions, adverse events, each in id order.
func Resources(r domain.Records, o Options) []Resource {
	lots := map[int64]domain.Lot{}
	for _, l := range r.Lots {
		lots[l.ID] = l
	}
	dons := map[int64]domain.Donation{}
	for _, d := range r.Donations {
		dons[d.ID] = d
	}
	bags := map[int64]domain.DoseBag{}
	for _, b := range r.Bags {
		bags[b.ID] = b
	}
	var out []Resource
	add := func(typ, id string, body any) { out = append(out, Resource{Type: typ, ID: id, Body: body}) }
	for _, p := range r.Patients {
		add("Patient", strconv.FormatInt(p.ID, 10), MapPatient(p, o))
	}
	for _, u := range r.Units {
		lot := lots[u.LotID]
		add("BiologicallyDerivedProduct", UnitResourceID(u.ID), MapUnit(u, lot, dons[lot.DonationID]))
	}
	for _, b := range r.Bags {
		lot := lots[b.LotID]
		add("BiologicallyDerivedProduct", BagResourceID(b.ID), MapBag(b, lot, dons[lot.DonationID], r.Spec))
	}
	for _, d := range r.Dispatches {
		add("BiologicallyDerivedProductDispense", strconv.FormatInt(d.Dispatch.ID, 10), MapDispatch(d, bags[d.Dispatch.DoseBagID]))
	}
	for _, i := range r.Infusions {
		add("Procedure", strconv.FormatInt(i.ID, 10), MapInfusion(i))
	}
	for _, a := range r.AdverseEvents {
		add("AdverseEvent", strconv.FormatInt(a.ID, 10), MapAdverseEvent(a, r.Infusions))
	}
	return out
}

// Find returns the resource of a type and id among the mapped records.
func Find(r domain.Records, o Options, typ, id string) (any, bool) {
	for _, res := range Resources(r, o) {
		if res.Type == typ && res.ID == id {
			return res.Body, true
		}
	}
	return nil, false
}

// PatientEverything is the searchset Bundle of Patient/$everything: the patient (match) and
// every resource of their chain (include). base is the server's FHIR base URL, self the
// request's full URL.
func PatientEverything(r domain.Records, o Options, patientID int64, base, self string, now time.Time) Bundle {
	b := Bundle{ResourceType: "Bundle", Type: "searchset", Timestamp: instant(now), Link: []BundleLink{{Relation: "self", URL: self}}}
	pid := strconv.FormatInt(patientID, 10)
	for _, res := range Resources(r, o) {
		mode := "include"
		if res.Type == "Patient" && res.ID == pid {
			mode = "match"
		}
		b.Entry = append(b.Entry, BundleEntry{FullURL: base + "/" + res.Type + "/" + res.ID, Resource: res.Body, Search: &BundleSearch{Mode: mode}})
	}
	total := len(b.Entry)
	b.Total = &total
	return b
}

// Collection is a collection Bundle of every resource of the records, e.g. a lot's.
func Collection(r domain.Records, o Options, base string, now time.Time) Bundle {
	b := Bundle{ResourceType: "Bundle", Type: "collection", Timestamp: instant(now)}
	for _, res := range Resources(r, o) {
		b.Entry = append(b.Entry, BundleEntry{FullURL: base + "/" + res.Type + "/" + res.ID, Resource: res.Body})
	}
	return b
}
