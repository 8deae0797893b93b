package loadtest

import (
	"container/heap"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"cordtrace/domain"
	"cordtrace/labels"
	"cordtrace/migrations"
	"cordtrace/store"
)

// HistoryConfig sizes the history SeedHistory writes.
type HistoryConfig struct {
	// DatabaseURL names a PostgreSQL database; empty: the SQLite file in DataDir.
	DatabaseURL string
	DataDir     string
	Patients    int // enrolled over the years, spread over the sites
	// Bags is the dose bags prepared: one for each treated patient's infusion, and the rest
	// bags that expired on the ward, were returned and discarded, and were made again.
	Bags int
	// AuditEntries is the length of the audit trail to reach: what the history records, and
	// patient data shown on pages (patient.disclose), which is most of a real trail.
	AuditEntries int
	Sites        int
	Years        int
	// End is when the history ends (default now): the latest patients are on their way to
	// the bedside then, and the latest lots still in QC.
	End time.Time
	// Password is every seeded user's password; it is hashed once, at PasswordCost.
	Password     string
	PasswordCost int
	// FacilityID and ProductCode as the service is configured (defaults A9999, S1234).
	FacilityID, ProductCode string
	// Batch is the rows written per transaction (default 5,000).
	Batch int
	// Progress receives a line a second.
	Progress io.Writer
	// Seed makes the history reproducible.
	Seed uint64
}

// HistoryReport is what SeedHistory wrote.
type HistoryReport struct {
	Rows, AuditEntries       int64
	Lots, Patients, DoseBags int
	Elapsed                  time.Duration
}

// The shape of the history.
const (
	unitsPerSeededLot = 60
	seededUnitCells   = 120_000_000 // enough for 110 kg at 10⁶ cells/kg
	seededUnitML      = 10
	treatedShare      = 0.95 // the rest are in the routine arm
	rejectedShare     = 0.03
	recalledShare     = 0.01
	adverseShare      = 0.03
	lotShelfLifeYears = 2
)

// ErrNotEmpty is returned when the database already holds records: a history is written only
// into a new database.
var ErrNotEmpty = errors.New("the database is not empty")

func (cfg *HistoryConfig) validate() error {
	if cfg.End.IsZero() {
		cfg.End = time.Now()
	}
	cfg.End = cfg.End.UTC().Truncate(time.Minute)
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
	}
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = domain.DefaultPasswordCost
	}
	if cfg.FacilityID == "" {
		cfg.FacilityID = "A9999"
	}
	if cfg.ProductCode == "" {
		cfg.ProductCode = "S1234"
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	switch {
	case cfg.Sites < 1 || cfg.Sites > 26:
		return fmt.Errorf("sites %d: give 1 to 26", cfg.Sites)
	case cfg.Years < 1 || cfg.Years > 20:
		return fmt.Errorf("years %d: give 1 to 20", cfg.Years)
	case cfg.Patients < 1:
		return fmt.Errorf("patients %d: give at least 1", cfg.Patients)
	case cfg.Patients > cfg.Sites*cfg.Years*9999:
		return fmt.Errorf("patients %d: at most 9,999 a site a year (subject ids have 4 digits)", cfg.Patients)
	case cfg.Bags < 0 || cfg.AuditEntries < 0:
		return fmt.Errorf("give bags and audit entries of 0 or more")
	case cfg.Password == "":
		return fmt.Errorf("give the seeded users' password")
	}
	return nil
}

// person is a seeded user.
type person struct {
	id       int64
	username string
	name     string
	role     domain.Role
}

func (p person) actor(request string) domain.Actor {
	return domain.Actor{UserID: p.id, Username: p.username, FullName: p.name, Role: p.role, RequestID: request}
}

// ward is one site: its ward and the people who care for its patients.
type ward struct {
	name                                   string
	doctor, nurse, witness, pharm, checker person
}

type seededLot struct {
	id        int64
	din       domain.DIN
	number    string
	firstUnit int64
	unitsAt   time.Time
	used      int
	released  time.Time // zero: never
	recalled  time.Time // zero: never
	expires   time.Time
	rejected  bool
}

// spent says whether the lot can give no unit at t or later.
func (l *seededLot) spent(t time.Time) bool {
	return l.used >= unitsPerSeededLot || l.rejected || !t.Before(l.expires.AddDate(0, 0, -30)) ||
		(!l.recalled.IsZero() && !t.Before(l.recalled.AddDate(0, 0, -7)))
}

// usableAt says whether a unit of the lot may be thawed at t for a dose: released, far from
// its expiry and not about to be recalled.
func (l *seededLot) usableAt(t time.Time) bool {
	return !l.released.IsZero() && !l.released.After(t) && !l.unitsAt.After(t) && l.used < unitsPerSeededLot &&
		t.Before(l.expires.AddDate(0, 0, -30)) && (l.recalled.IsZero() || t.Before(l.recalled.AddDate(0, 0, -7)))
}

type recentPatient struct {
	id   int64
	ward *ward
}

// pending is one transaction's audit entries, waiting for the chain to reach their time.
type pending struct {
	at      time.Time
	n       int64
	entries []domain.AuditEntry
}

type auditQueue []*pending

func (q auditQueue) Len() int { return len(q) }
func (q auditQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].n < q[j].n
}
func (q auditQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *auditQueue) Push(x any)   { *q = append(*q, x.(*pending)) }
func (q *auditQueue) Pop() any {
	old := *q
	p := old[len(old)-1]
	*q = old[:len(old)-1]
	return p
}

// history generates the records in time order: each lot and patient is planned whole when it
// starts, its rows written at once with the state they have at the end, and its audit entries
// queued and sealed onto the chain in the order of their times.
type history struct {
	cfg        HistoryConfig
	w          *rowWriter
	rng        *rand.Rand
	spec       domain.ReleaseSpec
	signer     *labels.Signer
	start, end time.Time
	next       map[string]int64
	admin      person
	qc, qa     []person
	wards      []*ward
	lots       []*seededLot
	firstLot   int // lots before it have no usable unit left
	dinSeq     map[int]int
	lotSeq     map[int]int
	subjectSeq map[string]int
	extraBags  float64
	recent     []recentPatient
	queue      auditQueue
	queued     int64
	prev       *domain.AuditEntry
	emitted    int64 // audit entries recorded, sealed or queued
	fillers    int64
	sealed     atomic.Int64
	written    atomic.Int64
	days       atomic.Int64
	bags       int
}

// SeedHistory writes a whole history (users, lots with QC and signatures, units, patients,
// orders, dose bags, custody scans, bedside verifications, infusions, adverse events and the
// audit chain that records them) straight into an empty database, in batches of
// cfg.Batch rows a transaction. The audit entries are sealed with domain.AuditEntry.Seal, as
// the service seals its own, so that `cordtrace audit verify` checks them.
func SeedHistory(ctx context.Context, cfg HistoryConfig) (HistoryReport, error) {
	began := time.Now()
	if err := cfg.validate(); err != nil {
		return HistoryReport{}, err
	}
	db, dialect, err := store.OpenDB(store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir})
	if err != nil {
		return HistoryReport{}, err
	}
	defer db.Close()
	if _, err := migrations.Up(ctx, db, dialect, nil); err != nil {
		return HistoryReport{}, err
	}
	if err := checkEmpty(ctx, db); err != nil {
		return HistoryReport{}, err
	}
	h := &history{cfg: cfg, w: newRowWriter(db, dialect), rng: rand.New(rand.NewPCG(cfg.Seed, 0x636f7264)),
		end: cfg.End, next: map[string]int64{}, dinSeq: map[int]int{}, lotSeq: map[int]int{}, subjectSeq: map[string]int{}}
	h.start = h.end.AddDate(-cfg.Years, 0, 0)
	if h.spec, err = specInForce(ctx, db); err != nil {
		return HistoryReport{}, err
	}
	defineTables(h.w)

	totalDays := int64(math.Ceil(h.end.Sub(h.start).Hours() / 24))
	var lastWritten int64
	lastAt := time.Now()
	stop := everySecond(func(now time.Time) {
		n := h.written.Load()
		fmt.Fprintf(cfg.Progress, "seeding: %3.0f%% (day %d of %d), %d rows written, %.0f rows/s, %d audit entries\n",
			100*float64(h.days.Load())/float64(totalDays), h.days.Load(), totalDays, n,
			float64(n-lastWritten)/now.Sub(lastAt).Seconds(), h.sealed.Load())
		lastWritten, lastAt = n, now
	})
	err = h.run(ctx, totalDays)
	stop()
	if err != nil {
		return HistoryReport{}, err
	}
	fmt.Fprintf(cfg.Progress, "seeding: setting sequences and gathering statistics\n")
	if err := h.finish(ctx, db, dialect); err != nil {
		return HistoryReport{}, err
	}
	return HistoryReport{Rows: h.w.written, AuditEntries: h.sealed.Load(), Lots: len(h.lots),
		Patients: cfg.Patients, DoseBags: h.bags, Elapsed: time.Since(began)}, nil
}

func checkEmpty(ctx context.Context, db *sql.DB) error {
	var users, entries int64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM audit_entries)`).Scan(&users, &entries); err != nil {
		return err
	}
	if users > 0 || entries > 0 {
		return fmt.Errorf("%w: it has %d users and %d audit entries; seed a new, empty database (createdb), never one in use", ErrNotEmpty, users, entries)
	}
	return nil
}

func specInForce(ctx context.Context, db *sql.DB) (domain.ReleaseSpec, error) {
	var version int
	var text string
	if err := db.QueryRowContext(ctx, `SELECT version, spec FROM spec_versions WHERE effective_at IS NOT NULL ORDER BY version DESC LIMIT 1`).Scan(&version, &text); err != nil {
		return domain.ReleaseSpec{}, fmt.Errorf("read the specification in force: %w", err)
	}
	var spec domain.ReleaseSpec
	if err := json.Unmarshal([]byte(text), &spec); err != nil {
		return spec, err
	}
	spec.Version = version
	return spec, nil
}

// defineTables lists the tables written, parents before children.
func defineTables(w *rowWriter) {
	w.define("users", "id", "username", "full_name", "password_hash", "created_at")
	w.define("user_roles", "user_id", "role")
	w.define("label_keys", "kid", "public_key", "private_key", "created_at")
	w.define("donations", "id", "din", "collected_at", "eligibility", "created_by", "created_at")
	w.define("lots", "id", "lot_number", "donation_id", "status", "manufactured_at", "expires_at", "created_by", "created_at", "updated_at")
	w.define("qc_results", "id", "lot_id", "test", "value", "result", "markers", "analyte", "baseline", "lps", "treated", "valid", "inhibition_pct", "entered_by", "entered_at", "invalid_reason")
	w.define("qc_investigations", "id", "lot_id", "test", "result_id", "status", "opened_at", "conclusion", "reason", "closed_by", "printed_name", "meaning", "closed_at", "last_result_id")
	w.define("signatures", "id", "lot_id", "action", "user_id", "printed_name", "role", "meaning", "reason", "spec_version", "evaluation_hash", "signed_at")
	w.define("units", "id", "lot_id", "unit_id", "division", "viable_cells", "volume_ml", "status", "created_at")
	w.define("patients", "id", "subject_id", "mrn", "name", "date_of_birth", "arm", "enrolled_at", "chain_of_identity", "created_by", "created_at")
	w.define("patient_weights", "id", "patient_id", "weight_kg", "recorded_by", "recorded_at", "reason")
	w.define("dose_orders", "id", "patient_id", "weight_kg", "target_viable_cells", "spec_version", "status", "ordered_by", "ordered_at", "weight_id")
	w.define("dose_bags", "id", "bag_id", "dose_order_id", "patient_id", "lot_id", "thawed_at", "post_thaw_viability_pct", "viable_cells", "volume_ml",
		"volume_to_draw_ml", "expires_at", "status", "prepared_by", "prepared_at", "checked_by", "checked_at")
	w.define("dose_bag_units", "dose_bag_id", "unit_id")
	w.define("label_prints", "id", "entity_type", "entity_id", "serial", "reason", "printed_by", "printed_at", "copies")
	w.define("label_print_keys", "print_id", "kid", "signed_at")
	w.define("custody_scans", "id", "kind", "dose_bag_id", "code", "code_kind", "location", "temperature_c", "excursion", "accepted", "refusal", "from_user", "scanned_by", "scanned_at", "entry")
	w.define("verifications", "id", "dose_bag_id", "patient_id", "wristband", "code", "code_kind", "pass", "checks", "failed", "nurse_id", "witness_id", "ward", "verified_at", "wristband_entry", "code_entry")
	w.define("infusions", "id", "verification_id", "dose_bag_id", "patient_id", "started_by", "started_at", "ended_at", "volume_ml", "reactions")
	w.define("adverse_events", "id", "patient_id", "infusion_id", "lot_id", "serious", "severity", "description", "onset_at", "reported_by", "reported_at")
	w.define("audit_entries", "seq", "at", "user_id", "user_name", "role", "action", "entity_type", "entity_id", "before_value", "after_value", "reason", "request_id", "prev_hash", "hash")
}

// id is the next id of table.
func (h *history) id(table string) int64 {
	h.next[table]++
	return h.next[table]
}

// change is one audited change, as the store's tx.audit records it.
type change struct {
	action, entityType string
	entityID           any
	before, after      any
	reason             string
}

// record queues the audit entries of one transaction by actor at at; nothing after the end
// of the history is recorded.
func (h *history) record(at time.Time, actor domain.Actor, changes ...change) {
	if at.After(h.end) {
		return
	}
	actor.RequestID = fmt.Sprintf("%016x", h.rng.Uint64())
	p := &pending{at: at, n: h.queued, entries: make([]domain.AuditEntry, 0, len(changes))}
	h.queued++
	for _, c := range changes {
		p.entries = append(p.entries, domain.AuditEntry{At: at, UserID: actor.UserID, UserName: actor.FullName, Role: actor.Role,
			Action: c.action, EntityType: c.entityType, EntityID: fmt.Sprint(c.entityID), Before: auditText(c.before),
			After: auditText(c.after), Reason: c.reason, RequestID: actor.RequestID})
	}
	h.emitted += int64(len(p.entries))
	heap.Push(&h.queue, p)
}

func auditText(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the generator's own values are encoded
	}
	return string(b)
}

// seal chains every queued entry before upTo and buffers it for the audit table.
func (h *history) seal(upTo time.Time) {
	for len(h.queue) > 0 && h.queue[0].at.Before(upTo) {
		p := heap.Pop(&h.queue).(*pending)
		for _, e := range p.entries {
			e.Seal(h.prev)
			h.prev = &e
			var user any
			if e.UserID != 0 {
				user = e.UserID
			}
			h.w.add("audit_entries", e.Seq, e.At, user, e.UserName, string(e.Role), e.Action, e.EntityType, e.EntityID,
				e.Before, e.After, e.Reason, e.RequestID, e.PrevHash, e.Hash)
			h.sealed.Add(1)
		}
	}
}

func (h *history) flushIfFull(ctx context.Context) error {
	if h.w.pending < h.cfg.Batch {
		return nil
	}
	err := h.w.flush(ctx)
	h.written.Store(h.w.written)
	return err
}

func (h *history) past(t time.Time) bool { return !t.After(h.end) }

func (h *history) run(ctx context.Context, totalDays int64) error {
	if err := h.people(); err != nil {
		return err
	}
	cfg := h.cfg
	lots := int(math.Ceil(float64(cfg.Bags) * 1.15 / unitsPerSeededLot))
	lots = max(lots, 2)
	lotSpan := h.end.Sub(h.start) - 3*24*time.Hour
	// Patients are enrolled once the first lots are released.
	enrolFrom := h.start.Add(45 * 24 * time.Hour)
	enrolSpan := h.end.Sub(enrolFrom)
	treated := float64(cfg.Patients) * treatedShare
	if treated > 0 {
		h.extraBags = max(0, (float64(cfg.Bags)-treated)/treated)
	}
	nextLot, nextPatient := 0, 0
	for d := int64(0); d < totalDays; d++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		dayStart := h.start.Add(time.Duration(d) * 24 * time.Hour)
		dayEnd := dayStart.Add(24 * time.Hour)
		for nextLot < lots {
			at := h.start.Add(time.Duration((float64(nextLot) + 0.5) / float64(lots) * float64(lotSpan))).Truncate(time.Minute)
			if !at.Before(dayEnd) {
				break
			}
			if err := h.lot(at); err != nil {
				return err
			}
			nextLot++
		}
		for nextPatient < cfg.Patients {
			at := enrolFrom.Add(time.Duration((float64(nextPatient) + 0.5) / float64(cfg.Patients) * float64(enrolSpan))).Truncate(time.Minute)
			if !at.Before(dayEnd) {
				break
			}
			if err := h.patient(nextPatient, at); err != nil {
				return err
			}
			nextPatient++
		}
		h.pageViews(d, totalDays, dayStart)
		h.seal(dayEnd)
		h.days.Store(d + 1)
		if err := h.flushIfFull(ctx); err != nil {
			return err
		}
	}
	h.seal(h.end.Add(time.Nanosecond))
	err := h.w.flush(ctx)
	h.written.Store(h.w.written)
	return err
}

var (
	firstNames = []string{"Ada", "Ben", "Chen", "Dara", "Elif", "Femi", "Gita", "Hugo", "Ines", "Jun", "Kofi", "Lena", "Mei", "Nour", "Omar", "Pia", "Rui", "Sara", "Tomas", "Uma", "Vera", "Wei", "Yara", "Zoe"}
	lastNames  = []string{"Ahmed", "Brown", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Huang", "Ivanova", "Jensen", "Kim", "Li", "Martin", "Nguyen", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Wang", "Yilmaz", "Zhang"}
)

func (h *history) name() string {
	return firstNames[h.rng.IntN(len(firstNames))] + " " + lastNames[h.rng.IntN(len(lastNames))]
}

// people creates the users (one password hash for all of them) and the label signing key.
func (h *history) people() error {
	hash, err := domain.HashPassword(h.cfg.Password, h.cfg.PasswordCost)
	if err != nil {
		return err
	}
	at := h.start.Add(-24 * time.Hour)
	add := func(username, name string, role domain.Role) person {
		p := person{id: h.id("users"), username: username, name: name, role: role}
		h.w.add("users", p.id, username, name, hash, at)
		h.w.add("user_roles", p.id, string(role))
		u := map[string]any{"id": p.id, "username": username, "full_name": name, "roles": []domain.Role{role}, "created_at": at}
		if role == domain.RoleAdmin {
			h.record(at, domain.SystemActor(""), change{"user.create", "user", p.id, nil, u, "first administrator of a new installation"})
		} else {
			h.record(at, h.admin.actor(""), change{"user.create", "user", p.id, nil, u, ""})
		}
		return p
	}
	h.admin = add("admin", "Site administrator", domain.RoleAdmin)
	for i := 1; i <= 2; i++ {
		h.qc = append(h.qc, add(fmt.Sprintf("qc%d", i), h.name()+" (QC)", domain.RoleQC))
		h.qa = append(h.qa, add(fmt.Sprintf("qa%d", i), h.name()+" (QA)", domain.RoleQA))
	}
	for s := range h.cfg.Sites {
		tag := fmt.Sprintf("s%02d", s+1)
		h.wards = append(h.wards, &ward{
			name:    fmt.Sprintf("S%02d-ICU", s+1),
			doctor:  add("doctor."+tag, "Dr. "+h.name(), domain.RolePhysician),
			nurse:   add("nurse."+tag, h.name()+" (nurse)", domain.RoleNurse),
			witness: add("witness."+tag, h.name()+" (nurse)", domain.RoleNurse),
			pharm:   add("pharmacist."+tag, h.name()+" (pharmacy)", domain.RolePharmacist),
			checker: add("checker."+tag, h.name()+" (pharmacy)", domain.RolePharmacist),
		})
	}
	kid := "k" + h.start.Format("20060102") + "seed"
	signer, pub, err := labels.GenerateKey(kid)
	if err != nil {
		return err
	}
	priv, err := labels.MarshalPrivateKey(signer.PrivateKey())
	if err != nil {
		return err
	}
	h.signer = signer
	h.w.add("label_keys", kid, labels.EncodePublicKey(pub), string(priv), at)
	h.record(at, domain.SystemActor(""), change{"label_key.create", "label_key", kid, nil, map[string]string{"kid": kid, "public_key": labels.EncodePublicKey(pub)}, ""})
	return nil
}

// lot plans one lot made at m: its donation, QC, release (or rejection), units, and later
// recall or expiry.
func (h *history) lot(m time.Time) error {
	n := len(h.lots)
	qc, qa := h.qc[n%len(h.qc)], h.qa[n%len(h.qa)]
	fate := h.rng.Float64()
	rejected := fate < rejectedShare
	recalled := !rejected && fate < rejectedShare+recalledShare

	collected := m.Add(-72 * time.Hour)
	year := collected.Year() % 100
	h.dinSeq[year]++
	din, err := domain.NewDIN(h.cfg.FacilityID, year, h.dinSeq[year])
	if err != nil {
		return err
	}
	donID := h.id("donations")
	donAt := m.Add(-48 * time.Hour)
	h.w.add("donations", donID, din.String(), collected, string(domain.Eligible), qc.id, donAt)
	h.record(donAt, qc.actor(""), change{"donation.create", "donation", donID, nil,
		domain.Donation{ID: donID, DIN: din.String(), Check: string(din.Check()), EyeReadable: din.EyeReadable(), CollectedAt: collected, Eligibility: domain.Eligible, CreatedAt: donAt}, ""})

	h.lotSeq[m.Year()]++
	l := &seededLot{id: h.id("lots"), din: din, number: fmt.Sprintf("HUC-%d-%04d", m.Year(), h.lotSeq[m.Year()]), expires: m.AddDate(lotShelfLifeYears, 0, 0), rejected: rejected}
	h.lots = append(h.lots, l)
	lot := domain.Lot{ID: l.id, LotNumber: l.number, DonationID: donID, DIN: din.String(), Status: domain.LotInProcess,
		ManufacturedAt: m, ExpiresAt: l.expires, CreatedAt: m, UpdatedAt: m}
	status, updated := domain.LotInProcess, m
	move := func(at time.Time, to domain.LotStatus) (before, after domain.Lot) {
		before = lot
		lot.Status, lot.UpdatedAt = to, at
		if h.past(at) {
			status, updated = to, at
		}
		return before, lot
	}
	h.record(m, qc.actor(""), change{"lot.create", "lot", l.id, nil, lot, ""})
	qAt := m.Add(24 * time.Hour)
	b, a := move(qAt, domain.LotQuarantine)
	h.record(qAt, qc.actor(""), change{"lot.quarantine", "lot", l.id, b, a, "manufacturing complete"})

	// Units, divided once the lot is in quarantine.
	l.unitsAt = qAt.Add(time.Hour)
	var unitChanges []change
	if h.past(l.unitsAt) {
		for div := 1; div <= unitsPerSeededLot; div++ {
			code, divisions, err := domain.UnitDivision(div, unitsPerSeededLot)
			if err != nil {
				return err
			}
			uid := domain.UnitID{DIN: din, Product: domain.ProductCode{Description: h.cfg.ProductCode, Donation: domain.DefaultCollectionType, Division: code}, Divisions: divisions}
			id := h.id("units")
			if div == 1 {
				l.firstUnit = id
			}
			h.w.add("units", id, l.id, uid.String(), div, int64(seededUnitCells), float64(seededUnitML), string(domain.UnitAvailable), l.unitsAt)
			unitChanges = append(unitChanges, change{"unit.create", "unit", id, nil, domain.Unit{ID: id, LotID: l.id, UnitID: uid.String(),
				Check: string(uid.Check()), EyeReadable: uid.EyeReadable(), Division: div, ViableCells: seededUnitCells, VolumeML: seededUnitML,
				Status: domain.UnitAvailable, CreatedAt: l.unitsAt}, ""})
		}
		h.record(l.unitsAt, qc.actor(""), unitChanges...)
	}

	// QC, one test a day from day 3.
	f := func(v float64) *float64 { return &v }
	endotoxin := 0.05 + 0.25*h.rng.Float64()
	if rejected {
		endotoxin = 0.9
	}
	results := []domain.QCResult{
		{Test: domain.TestViability, Value: f(math.Round((84+10*h.rng.Float64())*10) / 10)},
		{Test: domain.TestViableCellCount, Value: f(math.Round(9e8 + 6e8*h.rng.Float64()))},
		{Test: domain.TestSterility, Result: "negative"},
		{Test: domain.TestMycoplasma, Result: "not_detected"},
		{Test: domain.TestEndotoxin, Value: f(math.Round(endotoxin*100) / 100)},
		{Test: domain.TestPhenotype, Markers: map[string]float64{"CD73": 99.1, "CD90": 98.7, "CD105": 97.9, "CD34": 0.4, "CD45": 0.6, "CD14": 0.3, "CD19": 0.2, "HLA-DR": 0.5}},
		{Test: domain.TestBV2Potency, Analyte: h.spec.BV2Analyte, Baseline: []float64{100, 105, 95}, LPS: []float64{1000, 1050, 950},
			Treated: []float64{480 + 40*h.rng.Float64(), 500, 520}},
	}
	var recorded []domain.QCResult
	var inv *domain.Investigation
	for i := range results {
		r := &results[i]
		r.Complete(h.spec)
		at := m.Add(time.Duration(72+24*i) * time.Hour)
		if !h.past(at) {
			break
		}
		enteredBy := h.qc[(n+i)%len(h.qc)]
		r.ID, r.LotID, r.EnteredBy, r.EnteredAt = h.id("qc_results"), l.id, enteredBy.id, at
		h.w.add("qc_results", r.ID, l.id, string(r.Test), nullFloat(r.Value), r.Result, jsonOrEmpty(r.Markers), r.Analyte,
			jsonOrEmpty(r.Baseline), jsonOrEmpty(r.LPS), jsonOrEmpty(r.Treated), nullBool(r.Valid), nullFloat(r.InhibitionPct), r.EnteredBy, at, r.InvalidReason)
		changes := []change{{"qc_result.create", "lot", l.id, nil, *r, ""}}
		if rejected && r.Test == domain.TestEndotoxin {
			inv = &domain.Investigation{ID: h.id("qc_investigations"), LotID: l.id, Test: r.Test, ResultID: r.ID, Status: domain.InvestigationOpen, OpenedAt: at}
			changes = append(changes, change{"qc_investigation.open", "lot", l.id, nil, *inv,
				fmt.Sprintf("QC result %d (%s) fails specification v%d", r.ID, r.Test, h.spec.Version)})
		}
		h.record(at, enteredBy.actor(""), changes...)
		recorded = append(recorded, *r)
	}

	signAt := m.Add(15 * 24 * time.Hour)
	sign := func(at time.Time, action domain.SignatureAction, reason string, eval *domain.Evaluation, to domain.LotStatus) {
		sig := domain.Signature{ID: h.id("signatures"), LotID: l.id, Action: action, UserID: qa.id, PrintedName: qa.name, Role: domain.RoleQA,
			Meaning: action.Meaning(), Reason: reason, SignedAt: at}
		var version, hash any
		if eval != nil {
			sig.SpecVersion, sig.EvaluationHash = h.spec.Version, eval.Hash
			version, hash = h.spec.Version, eval.Hash
		} else {
			hash = ""
		}
		h.w.add("signatures", sig.ID, l.id, string(action), qa.id, qa.name, string(domain.RoleQA), sig.Meaning, reason, version, hash, at)
		b, a := move(at, to)
		h.record(at, qa.actor(""), change{"lot." + string(action), "lot", l.id, b, a, reason}, change{"signature.create", "signature", sig.ID, nil, sig, sig.Meaning})
	}
	if rejected {
		closeAt := m.Add(12 * 24 * time.Hour)
		if inv != nil {
			closed := *inv
			if h.past(closeAt) {
				uid, at := qa.id, closeAt
				closed.Status, closed.Conclusion, closed.Reason = domain.InvestigationClosed, "confirmed", "repeat test confirms endotoxin above the limit"
				closed.ClosedBy, closed.SignedBy, closed.ClosedAt, closed.LastResultID = uid, qa.name, &at, inv.ResultID
				closed.Meaning = domain.InvestigationMeaning(closed.Conclusion, inv.ResultID, inv.ResultID)
				h.w.add("qc_investigations", inv.ID, l.id, string(inv.Test), inv.ResultID, closed.Status, inv.OpenedAt, closed.Conclusion, closed.Reason,
					uid, qa.name, closed.Meaning, at, inv.ResultID)
				h.record(closeAt, qa.actor(""), change{"qc_investigation.close", "lot", l.id, *inv, closed, closed.Reason})
			} else {
				h.w.add("qc_investigations", inv.ID, l.id, string(inv.Test), inv.ResultID, inv.Status, inv.OpenedAt, "", "", nil, "", "", nil, nil)
			}
		}
		if h.past(signAt) && len(recorded) == len(results) {
			sign(signAt, domain.SignReject, "endotoxin out of specification, confirmed", nil, domain.LotRejected)
		}
	} else if h.past(signAt) && len(recorded) == len(results) {
		eval := domain.EvaluateLot(h.spec, recorded, nil)
		sign(signAt, domain.SignRelease, "", &eval, domain.LotReleased)
		l.released = signAt
		if recallAt := signAt.AddDate(0, 4, 0); recalled && h.past(recallAt) {
			l.recalled = recallAt
			sign(recallAt, domain.SignRecall, "sterility failure reported by the cord bank for this donor's other products", nil, domain.LotRecalled)
		} else if h.past(l.expires) {
			b, a := move(l.expires, domain.LotExpired)
			h.record(l.expires, domain.SystemActor("expiry"), change{"lot.expire", "lot", l.id, map[string]any{"status": b.Status},
				map[string]any{"status": a.Status}, "expiry date " + l.expires.Format(time.RFC3339) + " passed"})
		}
	}
	h.w.add("lots", l.id, l.number, donID, string(status), m, l.expires, qc.id, m, updated)
	return nil
}

func nullFloat(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

func nullBool(v *bool) any {
	if v == nil {
		return nil
	}
	return *v
}

// jsonOrEmpty is how the store keeps markers and replicates: JSON, or "" for none.
func jsonOrEmpty[T any](v T) string {
	b, _ := json.Marshal(v)
	if s := string(b); s != "null" && s != "{}" && s != "[]" {
		return s
	}
	return ""
}

// lotFor is the oldest lot with a unit that may be thawed at t.
func (h *history) lotFor(t time.Time) *seededLot {
	for h.firstLot < len(h.lots) && h.lots[h.firstLot].spent(t) {
		h.firstLot++
	}
	for _, l := range h.lots[h.firstLot:] {
		if l.usableAt(t) {
			return l
		}
	}
	return nil
}

// patient plans patient j enrolled at e: enrolment, then for the treated, orders and bags on
// day 1, each dispatched and received; the last one is infused, the ones before expired on
// the ward and were discarded.
func (h *history) patient(j int, e time.Time) error {
	w := h.wards[j%len(h.wards)]
	doctor := w.doctor
	id := h.id("patients")
	yearIdx := min(25, int(e.Sub(h.start).Hours()/24/365))
	prefix := fmt.Sprintf("C%c%c", 'A'+j%len(h.wards), 'A'+yearIdx)
	h.subjectSeq[prefix]++
	subject := fmt.Sprintf("%s-%04d", prefix, h.subjectSeq[prefix])
	mrn := fmt.Sprintf("M%02d%07d", j%len(h.wards)+1, j+1)
	name := h.name()
	dob := time.Date(1940+h.rng.IntN(60), time.Month(1+h.rng.IntN(12)), 1+h.rng.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	weight := math.Round((45+65*h.rng.Float64())*10) / 10
	arm := domain.ArmRoutine
	if h.rng.Float64() < treatedShare {
		arm = domain.ArmHUCMSC
	}
	coi := domain.NewChainOfIdentity(h.cfg.FacilityID, e.Year()%100, id).String()
	h.w.add("patients", id, subject, mrn, name, dob, string(arm), e, coi, doctor.id, e)
	weightID := h.id("patient_weights")
	h.w.add("patient_weights", weightID, id, weight, doctor.id, e, "")
	p := domain.Patient{ID: id, SubjectID: subject, MRN: mrn, Name: name, DateOfBirth: dob, WeightKg: weight, Arm: arm, EnrolledAt: e, ChainID: coi}
	h.record(e, doctor.actor(""), change{"patient.enrol", "patient", id, nil, p, ""})
	h.recent = append(h.recent, recentPatient{id: id, ward: w})
	if len(h.recent) > 500 {
		h.recent = h.recent[len(h.recent)-500:]
	}
	if arm != domain.ArmHUCMSC {
		return nil
	}
	attempts := 1 + int(h.extraBags)
	if h.rng.Float64() < h.extraBags-math.Floor(h.extraBags) {
		attempts++
	}
	attempts = min(attempts, 3)
	day1 := time.Date(e.Year(), e.Month(), e.Day(), 0, 0, 0, 0, time.UTC).Add(24 * time.Hour)
	for k := range attempts {
		t := day1.Add(time.Duration(7+5*k) * time.Hour)
		ok, err := h.bag(p, weightID, w, t, k == attempts-1)
		if err != nil || !ok {
			return err
		}
	}
	return nil
}

// bag plans one order and its bag, prepared at t; false when the history ends before it, or
// no unit could be found.
func (h *history) bag(p domain.Patient, weightID int64, w *ward, t time.Time, infuse bool) (bool, error) {
	orderAt := t.Add(-time.Hour)
	if !h.past(orderAt) {
		return false, nil
	}
	target := int64(h.spec.DoseCellsPerKg * p.WeightKg)
	order := domain.DoseOrder{ID: h.id("dose_orders"), PatientID: p.ID, WeightKg: p.WeightKg, TargetViableCells: target,
		SpecVersion: h.spec.Version, Status: domain.OrderOpen, OrderedAt: orderAt}
	h.record(orderAt, w.doctor.actor(""), change{"dose_order.create", "dose_order", order.ID, nil, order, ""})
	l := h.lotFor(t)
	if l == nil || !h.past(t) {
		h.w.add("dose_orders", order.ID, p.ID, p.WeightKg, target, h.spec.Version, domain.OrderOpen, w.doctor.id, orderAt, weightID)
		return false, nil
	}
	h.w.add("dose_orders", order.ID, p.ID, p.WeightKg, target, h.spec.Version, domain.OrderFilled, w.doctor.id, orderAt, weightID)

	unit := l.firstUnit + int64(l.used)
	l.used++
	h.w.consumed = append(h.w.consumed, unit)
	h.bags++
	division, err := domain.BagDivision(l.used)
	if err != nil {
		return false, err
	}
	bagID := domain.UnitID{DIN: l.din, Product: domain.ProductCode{Description: h.cfg.ProductCode, Donation: domain.DefaultCollectionType, Division: division}}
	cells := int64(float64(target) * (0.97 + 0.06*h.rng.Float64()))
	thawed := t.Add(-20 * time.Minute)
	expires := thawed.Add(h.spec.BagShelfLife())
	draw := domain.VolumeToDraw(target, cells, seededUnitML)
	viability := math.Round((78+14*h.rng.Float64())*10) / 10
	bag := domain.DoseBag{ID: h.id("dose_bags"), BagID: bagID.String(), Check: string(bagID.Check()), EyeReadable: bagID.EyeReadable(),
		DoseOrderID: order.ID, PatientID: p.ID, LotID: l.id, ThawedAt: thawed, PostThawViabilityPct: viability, ViableCells: cells,
		VolumeML: seededUnitML, TargetViableCells: target, OrderWeightKg: p.WeightKg, VolumeToDrawML: draw, ExpiresAt: expires,
		Status: domain.BagPrepared, PreparedAt: t, UnitIDs: []int64{unit}}
	code, err := h.signer.Sign(labels.Payload{Kind: labels.KindDoseBag, ID: bag.BagID, MRN: p.MRN, ViableCells: cells, Expiry: expires, PrintSerial: 1, KeyID: h.signer.KeyID()})
	if err != nil {
		return false, err
	}

	status := domain.BagPrepared
	step := func(at time.Time, to domain.DoseBagStatus) bool {
		if !h.past(at) {
			return false
		}
		status = to
		return true
	}
	pharm, checker, nurse := w.pharm, w.checker, w.nurse
	h.record(t, pharm.actor(""),
		change{"unit.consume", "unit", unit, map[string]any{"status": domain.UnitAllocated}, map[string]any{"status": domain.UnitConsumed, "dose_bag_id": bag.ID}, ""},
		change{"dose_bag.prepare", "dose_bag", bag.ID, nil, bag, ""},
		change{"dose_order.fill", "dose_order", order.ID, map[string]any{"status": domain.OrderOpen}, map[string]any{"status": domain.OrderFilled}, ""})
	checkedAt := t.Add(10 * time.Minute)
	var checkedBy, checkedWhen any
	if h.past(checkedAt) {
		checkedBy, checkedWhen = checker.id, checkedAt
		h.record(checkedAt, checker.actor(""), change{"dose_bag.check", "dose_bag", bag.ID, map[string]any{"checked_by": nil},
			map[string]any{"checked_by": checker.id, "checked_at": checkedAt}, ""})
	}
	printAt := t.Add(15 * time.Minute)
	if h.past(printAt) {
		printID := h.id("label_prints")
		h.w.add("label_prints", printID, "dose_bag", bag.ID, 1, "", pharm.id, printAt, 1)
		h.w.add("label_print_keys", printID, h.signer.KeyID(), printAt)
		h.record(printAt, pharm.actor(""), change{"label.print", "dose_bag", bag.ID, nil, map[string]any{"serial": 1, "format": "pdf", "copy": 1, "kid": h.signer.KeyID()}, ""},
			change{"patient.disclose", "patient", p.ID, nil, map[string]any{"fields": []string{domain.FieldName, domain.FieldMRN, domain.FieldDateOfBirth}, "via": domain.ViaDoseBagLabel}, ""})
	}
	scan := func(at time.Time, kind string, by person, from any, temp float64, to domain.DoseBagStatus) {
		if !h.past(at) {
			return
		}
		before := status
		step(at, to)
		id := h.id("custody_scans")
		h.w.add("custody_scans", id, kind, bag.ID, code, domain.CodeQR, w.name, temp, false, true, "", from, by.id, at, domain.EntryScanned)
		ev := domain.CustodyEvent{ID: id, Kind: kind, DoseBagID: bag.ID, BagID: bag.BagID, CodeKind: domain.CodeQR, Location: w.name,
			TemperatureC: &temp, Accepted: true, BagStatus: to, ScannedAt: at, Entry: domain.EntryScanned}
		h.record(at, by.actor(""), change{"custody.scan", "custody_scan", id, nil, ev, ""},
			change{"dose_bag." + kind, "dose_bag", bag.ID, map[string]any{"status": before}, map[string]any{"status": to, "excursion": false}, ""})
	}
	scan(t.Add(30*time.Minute), domain.ScanDispatch, pharm, nil, math.Round((4+2*h.rng.Float64())*10)/10, domain.BagDispatched)
	scan(t.Add(time.Hour), domain.ScanReceive, nurse, pharm.id, math.Round((4+2*h.rng.Float64())*10)/10, domain.BagReceived)

	verifyAt := t.Add(75 * time.Minute)
	failed := ""
	if !infuse {
		verifyAt, failed = expires.Add(10*time.Minute), domain.CheckNotExpired
	}
	if h.past(verifyAt) {
		checks := make([]domain.Check, len(domain.BedsideChecks))
		for i, c := range domain.BedsideChecks {
			checks[i] = domain.Check{Code: c, Pass: c != failed, Message: "checked"}
			if c == failed {
				checks[i].Message = "the bag expired at " + expires.Format(time.RFC3339) + "; do not infuse it"
			}
		}
		v := domain.Verification{ID: h.id("verifications"), Pass: failed == "", Checks: checks, DoseBagID: bag.ID, PatientID: p.ID,
			CodeKind: domain.CodeQR, VerifiedAt: verifyAt, WristbandEntry: domain.EntryScanned, CodeEntry: domain.EntryScanned}
		h.w.add("verifications", v.ID, bag.ID, p.ID, p.MRN, code, domain.CodeQR, v.Pass, auditText(checks), failed, nurse.id, w.witness.id,
			w.name, verifyAt, domain.EntryScanned, domain.EntryScanned)
		changes := []change{{"bedside.verify", "verification", v.ID, nil, v, failed},
			{"patient.disclose", "patient", p.ID, nil, map[string]any{"fields": []string{domain.FieldName, domain.FieldDateOfBirth, domain.FieldMRN, domain.FieldSubjectID}, "via": domain.ViaBedsideVerification}, ""}}
		if v.Pass {
			changes = append(changes, change{"dose_bag.verify", "dose_bag", bag.ID, map[string]any{"status": status}, map[string]any{"status": domain.BagVerified}, ""})
			step(verifyAt, domain.BagVerified)
		}
		h.record(verifyAt, nurse.actor(""), changes...)
		if infuse {
			startAt, endAt := verifyAt.Add(5*time.Minute), verifyAt.Add(35*time.Minute)
			if step(startAt, domain.BagInfused) {
				inf := domain.Infusion{ID: h.id("infusions"), VerificationID: v.ID, DoseBagID: bag.ID, PatientID: p.ID, StartedAt: startAt}
				var ended, volume any
				if h.past(endAt) {
					ended, volume = endAt, draw
				}
				h.w.add("infusions", inf.ID, v.ID, bag.ID, p.ID, nurse.id, startAt, ended, volume, "")
				h.record(startAt, nurse.actor(""), change{"infusion.start", "infusion", inf.ID, nil, inf, ""},
					change{"dose_bag.infuse", "dose_bag", bag.ID, map[string]any{"status": domain.BagVerified}, map[string]any{"status": domain.BagInfused}, ""})
				done := inf
				done.EndedAt, done.VolumeML = &endAt, &draw
				h.record(endAt, nurse.actor(""), change{"infusion.end", "infusion", inf.ID, nil, done, ""})
				if onset := startAt.Add(48 * time.Hour); h.rng.Float64() < adverseShare && h.past(onset) {
					ae := domain.AdverseEvent{ID: h.id("adverse_events"), PatientID: p.ID, InfusionID: inf.ID, LotID: l.id, Severity: "mild",
						Description: "Transient fever after the infusion, resolved without treatment", OnsetAt: onset, ReportedAt: onset.Add(2 * time.Hour)}
					h.w.add("adverse_events", ae.ID, p.ID, inf.ID, l.id, false, ae.Severity, ae.Description, onset, w.doctor.id, ae.ReportedAt)
					h.record(ae.ReportedAt, w.doctor.actor(""), change{"adverse_event.report", "adverse_event", ae.ID, nil, ae, ""})
				}
			}
		} else {
			returnAt, discardAt := verifyAt.Add(10*time.Minute), verifyAt.Add(40*time.Minute)
			reason := "the bag expired on the ward before the infusion"
			if h.past(returnAt) {
				h.record(returnAt, nurse.actor(""), change{"dose_bag.return", "dose_bag", bag.ID, map[string]any{"status": status}, map[string]any{"status": domain.BagReturned}, reason})
				step(returnAt, domain.BagReturned)
			}
			if h.past(discardAt) {
				h.record(discardAt, pharm.actor(""), change{"dose_bag.discard", "dose_bag", bag.ID, map[string]any{"status": domain.BagReturned}, map[string]any{"status": domain.BagDiscarded}, reason})
				step(discardAt, domain.BagDiscarded)
			}
		}
	}
	h.w.add("dose_bags", bag.ID, bag.BagID, order.ID, p.ID, l.id, thawed, viability, cells, float64(seededUnitML), draw, expires, string(status),
		pharm.id, t, checkedBy, checkedWhen)
	h.w.add("dose_bag_units", bag.ID, unit)
	return status == domain.BagDiscarded, nil
}

// pageViews records the day's showings of patient data on pages (patient.disclose), so that
// the trail reaches cfg.AuditEntries: what the history records by itself is counted as it
// goes, and the views make up the rest, spread evenly over the days left.
func (h *history) pageViews(d, totalDays int64, dayStart time.Time) {
	if d < 60 || len(h.recent) == 0 {
		return
	}
	left := float64(totalDays - d)
	natural := float64(h.emitted-h.fillers) / float64(d)
	perDay := (float64(h.cfg.AuditEntries) - float64(h.emitted) - natural*left) / left
	if perDay <= 0 {
		return
	}
	n := int(perDay)
	if h.rng.Float64() < perDay-float64(n) {
		n++
	}
	vias := []string{domain.ViaPagePatient, domain.ViaPagePatientTrace, domain.ViaPagePatient, domain.ViaPageLotTrace}
	for range n {
		p := h.recent[h.rng.IntN(len(h.recent))]
		by := p.ward.doctor
		if h.rng.IntN(2) == 0 {
			by = p.ward.nurse
		}
		at := dayStart.Add(time.Duration(h.rng.Int64N(int64(24 * time.Hour)))).Truncate(time.Second)
		h.record(at, by.actor(""), change{"patient.disclose", "patient", p.id, nil,
			map[string]any{"fields": []string{domain.FieldName, domain.FieldMRN, domain.FieldDateOfBirth, domain.FieldSubjectID, domain.FieldClinical}, "via": vias[h.rng.IntN(len(vias))]}, ""})
		h.fillers++
	}
}

// finish moves each table's id sequence past the ids written, records the DIN sequences the
// donations used, and gathers the planner's statistics.
func (h *history) finish(ctx context.Context, db *sql.DB, dialect string) error {
	for year, seq := range h.dinSeq {
		if _, err := db.ExecContext(ctx, rebind(dialect, `INSERT INTO din_sequences (facility, year, last_seq) VALUES (?, ?, ?)`), h.cfg.FacilityID, year, seq); err != nil {
			return fmt.Errorf("DIN sequences: %w", err)
		}
	}
	if dialect == migrations.Postgres {
		for table, last := range h.next {
			if _, err := db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, table, last); err != nil {
				return fmt.Errorf("sequence of %s: %w", table, err)
			}
		}
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// rebind turns ? placeholders into $n on PostgreSQL.
func rebind(dialect, q string) string {
	if dialect != migrations.Postgres {
		return q
	}
	var out []byte
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = fmt.Appendf(out, "$%d", n)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
