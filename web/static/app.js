// cordtrace pages: small, dependency-free helpers over the JSON API (SPEC §12). The server
// decides every rule; this script only gathers input, shows what the server answers, and checks
// the shape of input as people type so that mistakes show before they press a button.
"use strict";

(function () {
  // ---------- talking to the API ----------

  // api sends a JSON request with the session cookie. It returns {ok, status, body}. A 401 means
  // the session ended: the person is sent to log in again and brought back to this page.
  async function api(method, url, body) {
    let res;
    try {
      res = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      return { ok: false, status: 0, body: { error: { message: "The server cannot be reached. Check the network connection and try again; nothing was recorded." } } };
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = { error: { message: text } }; }
    }
    if (res.status === 401 && !url.endsWith("/auth/login")) {
      location.href = "/login?expired=1&next=" + encodeURIComponent(location.pathname + location.search);
    }
    return { ok: res.ok, status: res.status, body: data };
  }

  function errorText(r) {
    const e = r.body && r.body.error;
    if (e && e.message) return e.message;
    return "The request failed (HTTP " + r.status + "). Try again; if it keeps failing, call support.";
  }

  function flash(msg) {
    const f = document.getElementById("flash");
    if (!f) return;
    f.textContent = msg;
    f.hidden = !msg;
    if (msg) f.scrollIntoView({ block: "nearest" });
  }

  // ---------- forms ----------

  // showFieldError marks the field the server named and puts its message next to it.
  function showErrors(form, r) {
    clearErrors(form);
    const e = (r.body && r.body.error) || {};
    const msg = errorText(r);
    let field = e.field ? form.querySelector('[name="' + CSS.escape(e.field) + '"], [name^="' + CSS.escape(e.field) + '."]') : null;
    if (field) {
      field.setAttribute("aria-invalid", "true");
      fieldNote(field, msg);
      field.focus();
    }
    let box = form.querySelector(".form-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "form-error";
      box.setAttribute("role", "alert");
      form.prepend(box);
    }
    box.textContent = msg;
  }

  function clearErrors(form) {
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    form.querySelectorAll(".field-note").forEach((el) => el.remove());
    const box = form.querySelector(".form-error");
    if (box) box.remove();
  }

  function fieldNote(field, msg) {
    const label = field.closest("label") || field.parentElement;
    let note = label.querySelector(".field-note");
    if (!msg) { if (note) note.remove(); return; }
    if (!note) {
      note = document.createElement("span");
      note.className = "field-note";
      label.append(note);
    }
    note.textContent = msg;
  }

  // liveCheck validates one field as it is typed: the browser's own rules (required, min, max,
  // pattern) in plain words, and the specification limit shown beside lab values.
  function liveCheck(field) {
    if (!field.willValidate) return;
    let msg = "";
    if (field.value !== "" && !field.checkValidity()) {
      msg = field.validationMessage + (field.dataset.hint ? " (" + field.dataset.hint + ")" : "");
    } else if (field.value !== "" && (field.dataset.limitMin || field.dataset.limitMax)) {
      const v = Number(field.value);
      if (field.dataset.limitMin && v < Number(field.dataset.limitMin)) msg = "Below the specification limit of " + field.dataset.limitMin + ": this result will fail.";
      if (field.dataset.limitMax && v > Number(field.dataset.limitMax)) msg = "Above the specification limit of " + field.dataset.limitMax + ": this result will fail.";
    }
    field.toggleAttribute("aria-invalid", msg !== "" && !field.checkValidity());
    fieldNote(field, msg);
  }

  // formBody turns a form into the API's JSON: numbers as numbers (data-kind="int" makes any
  // input, a hidden one too, a whole number), datetime-local as RFC 3339, "a.b" names as
  // nested objects, data-list inputs as arrays, data-kind="ids" checkboxes as an array of ids,
  // data-kind="values" checkboxes as an array of the checked values (left out when none is).
  // Empty optional fields are left out.
  function formBody(form) {
    const body = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") continue;
      if (el.type === "checkbox") {
        if (el.dataset.kind === "ids") {
          body[el.name] = body[el.name] || [];
          if (el.checked) body[el.name].push(Number(el.value));
        } else if (el.dataset.kind === "values") {
          if (el.checked) (body[el.name] = body[el.name] || []).push(el.value);
        } else body[el.name] = el.checked;
        continue;
      }
      if (el.value === "" && !("list" in el.dataset)) continue;
      let v = el.value;
      if (el.dataset.kind === "int") v = parseInt(v, 10);
      else if (el.type === "number") v = Number(v);
      else if (el.type === "datetime-local") v = new Date(v).toISOString();
      if ("list" in el.dataset) {
        (body[el.name] = body[el.name] || []).push(el.value === "" ? null : Number(el.value));
        continue;
      }
      const path = el.name.split(".");
      let o = body;
      for (let i = 0; i < path.length - 1; i++) o = o[path[i]] = o[path[i]] || {};
      o[path[path.length - 1]] = v;
    }
    return body;
  }

  async function submitJSON(form, url, body, done) {
    const button = form.querySelector('[type="submit"]');
    if (button) { button.disabled = true; button.dataset.label = button.dataset.label || button.textContent; button.textContent = "Saving…"; }
    const r = await api("POST", url, body);
    if (button) { button.disabled = false; button.textContent = button.dataset.label; }
    if (!r.ok) { showErrors(form, r); return null; }
    clearErrors(form);
    if (done) done(r.body);
    return r.body;
  }

  // firstInvalid checks the whole form before sending; the server checks again.
  function firstInvalid(form) {
    for (const el of form.elements) {
      if (el.willValidate && !el.checkValidity()) {
        el.setAttribute("aria-invalid", "true");
        fieldNote(el, el.validationMessage + (el.dataset.hint ? " (" + el.dataset.hint + ")" : ""));
        el.focus();
        return el;
      }
    }
    return null;
  }

  const handlers = {
    json(form) {
      if (firstInvalid(form)) return;
      submitJSON(form, form.dataset.url, formBody(form), (created) => then(form, created));
    },
    // The allocation list's file is read here and sent as text inside JSON: the API takes
    // JSON only from a page with a session cookie.
    async "allocation-list"(form) {
      if (firstInvalid(form)) return;
      const file = form.querySelector('input[type="file"]').files[0];
      const body = formBody(form);
      body.csv = file ? await file.text() : "";
      submitJSON(form, form.dataset.url, body, () => location.reload());
    },
    qc(form) {
      if (firstInvalid(form)) return;
      const body = Object.assign({ test: form.dataset.test }, formBody(form));
      submitJSON(form, form.dataset.url, body, () => location.reload());
    },
    async "new-lot"(form) {
      if (firstInvalid(form)) return;
      const b = formBody(form);
      const don = await submitJSON(form, "/api/v1/donations", { din: b.din, collected_at: b.collected_at, eligibility: b.eligibility });
      if (!don) return;
      const lot = await submitJSON(form, "/api/v1/lots", { donation_id: don.id, lot_number: b.lot_number, manufactured_at: b.manufactured_at, expires_at: b.expires_at });
      if (lot) location.href = "/lots/" + lot.id;
    },
    sign(form) {
      if (firstInvalid(form)) return;
      const b = formBody(form);
      const body = { password: b.password };
      if (b.reason) body.reason = b.reason;
      submitJSON(form, "/api/v1/lots/" + form.dataset.lot + "/" + b.action, body, () => location.reload());
    },
    prepare(form) {
      if (firstInvalid(form)) return;
      const b = formBody(form);
      if (!b.unit_ids || b.unit_ids.length === 0) {
        showErrors(form, { status: 400, body: { error: { field: "unit_ids", message: "Tick the units you thawed into this bag." } } });
        return;
      }
      submitJSON(form, form.dataset.url, b, (bag) => {
        form.hidden = true;
        const out = document.getElementById("bag-result");
        document.getElementById("bag-id").textContent = bag.eye_readable + " " + bag.check;
        document.getElementById("bag-draw").textContent = bag.volume_to_draw_ml + " mL";
        document.getElementById("bag-expires").textContent = new Date(bag.expires_at).toLocaleString();
        for (const f of ["pdf", "png", "zpl"]) document.getElementById("bag-label-" + f).href = "/api/v1/dose-bags/" + bag.id + "/label." + f;
        document.getElementById("check-bag").dataset.url = "/api/v1/dose-bags/" + bag.id + "/check";
        out.hidden = false;
        out.scrollIntoView();
      });
    },
    // The second pharmacist's check (SPEC §6): their own username and password, typed on this
    // device; the label links appear once the server has recorded it.
    "check-bag"(form) {
      if (firstInvalid(form)) return;
      const b = formBody(form);
      submitJSON(form, form.dataset.url, { username: b.username, password: b.password }, (bag) => {
        form.hidden = true;
        form.reset();
        const done = document.getElementById("bag-checked");
        done.textContent = "Checked by " + b.username + " at " + new Date(bag.checked_at).toLocaleString() + ". The label may be printed.";
        done.hidden = false;
        document.getElementById("bag-labels").hidden = false;
      });
    },
    scan: scanSubmit,
    bedside: bedsideSubmit,
    "return-bag": returnBag,
    "end-infusion": endInfusion,
  };

  // then is what a data-api="json" form does after the server accepts it: data-then="reload"
  // reloads the page; a path such as "/patients/{id}" opens the page of what was created.
  function then(form, created) {
    const next = form.dataset.then;
    if (next === "reload") location.reload();
    else if (next && next.startsWith("/") && created && created.id !== undefined) location.href = next.replace("{id}", encodeURIComponent(created.id));
  }

  // ---------- telling a scan from typing (SPEC §7) ----------

  // A keyboard-wedge scanner types a whole code in a burst and presses Enter; a person types
  // a key at a time. A field marked data-scan notes when each key came; when its code is taken,
  // 4 or more keys at 35 ms or less apart on average were a scan. Where the device's scanner is
  // set to send a prefix (the "Scanner prefix" setting, kept on this device), a code starting
  // with it was scanned, surely, and the prefix is not part of the code. A code pasted or
  // edited was typed; one the camera read is "camera".
  const SCAN_MS_PER_KEY = 35;
  const SCAN_MIN_KEYS = 4;
  const SCAN_LOG_SIZE = 10; // lines kept in a page's log of its last scans

  function watchEntry(input) {
    const keys = [];
    input.entryKeys = keys;
    input.addEventListener("keydown", (ev) => noteKey(input, ev));
    input.addEventListener("paste", () => { keys.length = 0; keys.push(-1); });
    input.addEventListener("input", () => { if (input.value === "") { keys.length = 0; delete input.dataset.entry; } });
  }

  // noteKey notes when a key of a code came; a first key in an empty field starts a new code.
  function noteKey(input, ev) {
    if (ev.key.length !== 1) return; // Enter, Shift, arrows: not part of the code
    if (input.value === "") {
      input.entryKeys.length = 0;
      delete input.dataset.entry;
      delete input.dataset.stepCode;
    }
    input.entryKeys.push(performance.now());
  }

  // A verdict takes the focus, so that it is read out and seen; the scanner's next code must
  // still land in a field. A key typed while a verdict (an element marked data-scan-next) has
  // the focus moves the focus to the next scan field before the key is taken, so the key, and
  // the rest of the code after it, go there. Keys with Ctrl, Alt or Meta are a person's
  // shortcuts and stay where they are.
  function redirectScan(ev) {
    const from = document.activeElement;
    if (!from || !from.dataset || !("scanNext" in from.dataset)) return;
    if (ev.key.length !== 1 || ev.ctrlKey || ev.altKey || ev.metaKey) return;
    const to = from.dataset.scanNext ? document.getElementById(from.dataset.scanNext) : bedsideScanField();
    if (!to) return;
    to.focus();
    noteKey(to, ev);
  }

  // takeCode returns the field's code and how it was entered: scanned, typed or camera.
  function takeCode(input) {
    let code = input.value.trim();
    const prefixField = document.getElementById("scan-prefix");
    const prefix = prefixField ? prefixField.value : "";
    if (input.dataset.entry === "camera") return { code, entry: "camera" };
    if (prefix && code.startsWith(prefix)) return { code: code.slice(prefix.length).trim(), entry: "scanned" };
    const keys = input.entryKeys || [];
    const burst = keys.length >= SCAN_MIN_KEYS && keys[0] >= 0 && keys.length >= code.length &&
      (keys[keys.length - 1] - keys[0]) / (keys.length - 1) <= SCAN_MS_PER_KEY;
    return { code, entry: burst ? "scanned" : "typed" };
  }

  // entryWords is how the logs of last scans say how a code came in.
  function entryWords(entry) {
    return { scanned: "scanned", typed: "TYPED BY HAND", camera: "camera" }[entry] || entry;
  }

  // A scanner can read one label twice in a blink: the same code again within a second is the
  // same read (SPEC §7). doubleRead tells whether code is such a second read of the last one
  // seen by the guard last, and otherwise makes code the last one.
  const DOUBLE_READ_MS = 1000;
  function doubleRead(last, code) {
    if (isDoubleRead(last, code)) return true;
    noteRead(last, code);
    return false;
  }

  function isDoubleRead(last, code) {
    return code === last.code && Date.now() - last.at < DOUBLE_READ_MS;
  }

  function noteRead(last, code) {
    last.code = code;
    last.at = Date.now();
  }

  // ---------- dispatch and receipt ----------

  // scanSubmit records one scan and keeps the input focused for the next: a keyboard-wedge
  // scanner types the code and presses Enter, so the page must never need a mouse.
  // A double read is one scan, not a second dispatch to be refused.
  const lastScan = { code: "", at: 0 };

  async function scanSubmit(form) {
    const input = form.querySelector('[name="code"]');
    const { code, entry } = takeCode(input);
    if (!code) return;
    if (isDoubleRead(lastScan, code)) {
      input.value = "";
      return;
    }
    const b = formBody(form);
    const missing = ["place", "temperature_c"].find((n) => b[n] === undefined || b[n] === "");
    if (missing) {
      // Refused before it counts as a read, so that Enter after typing the reading sends it:
      // the code stays in its field, the missing field has the focus, and the refusal is seen
      // and heard like any other.
      const text = new Date().toLocaleTimeString() + " · NOT RECORDED · " + code + " · type the " +
        (missing === "place" ? "place" : "temperature of this bag") + ", then press Enter";
      scanVerdict("bad", text, false);
      firstInvalid(form);
      logCustodyScan("bad", text);
      beep();
      return;
    }
    noteRead(lastScan, code);
    input.value = "";
    // Each reading is for one bag: the next scan needs its own.
    const temperature = form.querySelector('[name="temperature_c"]');
    temperature.value = "";
    input.focus();
    const body = { code, temperature_c: b.temperature_c, entry };
    if (form.dataset.kind === "dispatch") body.to = b.place; else body.location = b.place;
    const r = await api("POST", form.dataset.url, body);
    const li = document.createElement("li");
    li.dataset.entry = entry;
    const when = new Date().toLocaleTimeString() + " · " + entryWords(entry);
    if (r.ok && r.body.accepted) {
      li.className = "ok";
      li.textContent = when + " · " + (r.body.bag_id || code) + " · accepted · now " + r.body.bag_status + (r.body.excursion ? " · TEMPERATURE EXCURSION: QA must clear this bag" : "");
      if (r.body.excursion) li.className = "bad";
    } else {
      li.className = "bad";
      li.textContent = when + " · REFUSED · " + (r.ok ? r.body.refusal : errorText(r));
      beep();
    }
    // A refusal takes the focus (unless the next code is already being typed), so that it is
    // heard and seen; the next scan still goes to the scan field (redirectScan).
    scanVerdict(li.className, li.textContent, li.className === "bad" && input.value === "");
    addToLog(li);
  }

  // scanVerdict shows the last scan's outcome in the alert region that is on the dispatch and
  // receipt pages from the start, so that a screen reader reads each one as it is written.
  function scanVerdict(className, text, focus) {
    const v = document.getElementById("scan-verdict");
    if (!v) return;
    v.className = "scan-verdict " + className;
    v.textContent = text;
    if (focus) v.focus();
  }

  // logCustodyScan adds a line to the dispatch or receipt page's log of last scans.
  function logCustodyScan(className, text) {
    const li = document.createElement("li");
    li.className = className;
    li.textContent = text;
    addToLog(li);
  }

  function addToLog(li) {
    const list = document.getElementById("scan-results");
    list.prepend(li);
    while (list.children.length > SCAN_LOG_SIZE) list.lastElementChild.remove();
  }

  // beep sounds a refusal, so that a person looking at the bag rather than the screen hears it
  // (SPEC §7: an audible and visible error).
  let audio = null;
  function beep() {
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator();
      osc.type = "square";
      osc.frequency.value = 440;
      osc.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
      document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
    } catch (e) {
      // No sound on this device: the red line in the list still shows the refusal.
    }
  }

  // ---------- bedside ----------

  let verification = null;
  let infusion = null;

  // needsEntryReason tells whether the codes as entered prove less than a scanned signed QR
  // code and wristband (SPEC §7): a code typed by hand, or a bag code that is not our QR (an
  // ISBT 128 barcode carries no signature and no print serial). The reason's box is shown
  // and required then, and left out of the request otherwise.
  function needsEntryReason(form) {
    const wristband = takeCode(form.querySelector('[name="wristband"]'));
    const bag = takeCode(form.querySelector('[name="code"]'));
    const why = [];
    if (bag.code && (bag.entry === "typed" || !bag.code.startsWith("CT"))) {
      why.push(bag.entry === "typed" ? "the bag's code was typed by hand" : "the bag's code is not its signed QR code");
    }
    if (wristband.code && wristband.entry === "typed") why.push("the wristband was typed by hand");
    return why;
  }

  function updateEntryReason(form, force) {
    const box = document.getElementById("entry-reason-box");
    if (!box) return;
    const why = needsEntryReason(form);
    const show = force || why.length > 0;
    const select = document.getElementById("entry-reason");
    const text = document.getElementById("entry-reason-text");
    box.hidden = !show;
    select.disabled = !show;
    const other = show && select.value === "other";
    document.getElementById("entry-reason-text-label").hidden = !other;
    text.disabled = !other;
    text.required = other;
    if (why.length) {
      document.getElementById("entry-reason-why").textContent = "Not proven: " + why.join(" and ") +
        ". Only a scanned QR code proves that the label is genuine and is the bag's current print: say why, and the witness confirms the bag against the label.";
    }
  }

  async function bedsideSubmit(form) {
    updateEntryReason(form, false);
    if (firstInvalid(form)) return;
    const b = formBody(form);
    const wristband = takeCode(form.querySelector('[name="wristband"]'));
    const bag = takeCode(form.querySelector('[name="code"]'));
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    const body = { wristband: wristband.code, code: bag.code, witness: b.witness, ward: b.ward || "",
      wristband_entry: wristband.entry, code_entry: bag.entry };
    if (b.entry_reason) body.entry_reason = b.entry_reason;
    const r = await api("POST", "/api/v1/bedside/verify", body);
    button.disabled = false;
    form.querySelector('[name="witness.password"]').value = "";
    if (!r.ok) {
      if (r.body && r.body.error && r.body.error.field === "entry_reason") updateEntryReason(form, true);
      showErrors(form, r);
      logScan("Verification not made: " + errorText(r), "bad");
      return;
    }
    clearErrors(form);
    verification = r.body;
    logScan("Verification " + (r.body.pass ? "PASS" : "STOP"), r.body.pass ? "ok" : "bad");
    showVerdict(r.body);
  }

  // logScan adds a line to the bedside page's log of its last scans (SPEC §7).
  function logScan(text, className, entry) {
    const list = document.getElementById("scan-log");
    if (!list) return;
    const li = document.createElement("li");
    li.className = className || "";
    if (entry) li.dataset.entry = entry;
    li.textContent = new Date().toLocaleTimeString() + " · " + text;
    list.prepend(li);
    while (list.children.length > SCAN_LOG_SIZE) list.lastElementChild.remove();
    document.getElementById("scan-log-box").hidden = false;
  }

  // A step of the bedside form is done when its code is complete (Enter, or the camera): it is
  // logged, and a second read of the code just taken, within a second, is dropped instead of
  // landing in the next step (a scanner's double read of the wristband would otherwise become
  // the bag's code).
  const lastStep = { code: "", at: 0 };
  function stepDone(input) {
    const { code, entry } = takeCode(input);
    if (!code) return false;
    // Enter again in the field the code was taken in is not a read landing in the next step.
    if (doubleRead(lastStep, code) && input.dataset.stepCode !== code) {
      input.value = "";
      input.entryKeys.length = 0;
      return false;
    }
    lastStep.at = Date.now(); // a step taken again restarts its second
    input.dataset.stepCode = code;
    // A label's QR text is long: its bag id says which bag it was.
    const shown = input.name === "wristband" ? "Wristband " + code : "Bag " + ((code.match(/\|ID=([^|]+)/) || [])[1] || code);
    logScan(shown + " · " + entryWords(entry), entry === "typed" ? "warn" : "", entry);
    if (input.form && input.form.id === "bedside") updateEntryReason(input.form, false);
    return true;
  }

  function showVerdict(v) {
    const box = document.getElementById("verdict");
    const word = document.getElementById("verdict-word");
    const list = document.getElementById("verdict-checks");
    box.className = "verdict-box " + (v.pass ? "verdict-pass" : "verdict-stop");
    word.textContent = v.pass ? "PASS" : "STOP";
    if (!v.pass) beep();
    // Two identifiers: on a PASS the nurse confirms the person's name and date of birth.
    const who = document.getElementById("verdict-patient");
    who.hidden = !(v.pass && v.patient);
    if (v.pass && v.patient) {
      document.getElementById("patient-name").textContent = v.patient.name;
      document.getElementById("patient-dob").textContent = "Born " + v.patient.date_of_birth;
      document.getElementById("patient-ids").textContent = "MRN " + v.patient.mrn + " · subject " + v.patient.subject_id;
    }
    list.replaceChildren();
    // The failed checks first, in plain words: they are what the nurse must act on.
    const checks = v.checks.slice().sort((a, b) => Number(a.pass) - Number(b.pass));
    for (const c of checks) {
      if (v.pass || !c.pass) {
        const li = document.createElement("li");
        li.className = c.pass ? "ok" : "bad";
        li.dataset.code = c.code;
        li.textContent = (c.pass ? "✓ " : "✗ ") + c.message;
        list.append(li);
      }
    }
    if (!v.pass) {
      const li = document.createElement("li");
      li.className = "bad";
      li.textContent = "Do not infuse. Keep the bag and call the pharmacy.";
      list.append(li);
    }
    document.getElementById("bedside").hidden = true;
    // Only a STOP about the bag itself offers to send it back, behind a confirmation naming
    // the bag and the patient scanned; a STOP put right here offers to scan again, keeping
    // what was right.
    const giveBack = document.getElementById("return-box");
    if (giveBack) {
      giveBack.hidden = v.pass || !v.dose_bag_id || !v.return_offered;
      giveBack.open = false;
      document.getElementById("return-done").hidden = true;
      const code = document.getElementById("bag-code").value;
      const bagID = (code.match(/\|ID=([^|]+)/) || [])[1] || code;
      document.getElementById("return-confirm-text").textContent = "I am returning bag " + bagID +
        (v.patient ? ", scanned at the bedside of " + v.patient.name + " (subject " + v.patient.subject_id + ")" : "") +
        ": it will be refused at every bedside from then on.";
    }
    document.getElementById("scan-again").hidden = v.pass;
    document.getElementById("infusion").hidden = !v.pass;
    document.getElementById("start-infusion").hidden = false;
    document.getElementById("end-infusion").hidden = true;
    document.getElementById("infusion-done").hidden = true;
    box.hidden = false;
    window.scrollTo(0, 0);
    // Heard as well as seen: the alert region is on the page from the start, so a screen reader
    // announces the text as it arrives; the verdict takes the focus from the form it hid.
    const failed = v.checks.filter((c) => !c.pass).map((c) => c.message);
    document.getElementById("verdict-announce").textContent = v.pass
      ? "PASS." + (v.patient ? " " + v.patient.name + ", born " + v.patient.date_of_birth + "." : "")
      : "STOP. " + failed.join(" ");
    word.focus();
  }

  async function startInfusion() {
    const btn = document.getElementById("start-infusion");
    btn.disabled = true;
    const r = await api("POST", "/api/v1/infusions", { verification_id: verification.id });
    btn.disabled = false;
    if (!r.ok) { flash(errorText(r)); return; }
    infusion = r.body;
    btn.hidden = true;
    const form = document.getElementById("end-infusion");
    document.getElementById("infusion-started").textContent = "Infusion started at " + new Date(infusion.started_at).toLocaleTimeString() + ".";
    form.hidden = false;
    form.querySelector('[name="volume_ml"]').focus();
  }

  // returnBag sends the verified bag back to the pharmacy after a STOP, with the reason.
  function returnBag(form) {
    if (firstInvalid(form)) return;
    const b = formBody(form);
    submitJSON(form, "/api/v1/dose-bags/" + verification.dose_bag_id + "/return", { reason: b.reason }, (bag) => {
      document.getElementById("return-box").hidden = true;
      form.reset();
      const done = document.getElementById("return-done");
      done.textContent = "Bag " + bag.bag_id + " is returned: take it back to the pharmacy. It will be refused at every bedside.";
      done.hidden = false;
      logScan("Bag " + bag.bag_id + " returned to the pharmacy", "warn");
    });
  }

  // showInProgress lists the infusions started and not ended (one patient's where the box
  // names a patient), each with its own end form, so that an infusion started before a reload,
  // a closed tab or the idle logout can be ended from the bedside, the ward's list of patients
  // or the patient's page.
  async function showInProgress() {
    const box = document.getElementById("in-progress");
    if (!box) return;
    const r = await api("GET", "/api/v1/infusions");
    if (!r.ok) return;
    const only = Number(box.dataset.patient || 0);
    const infusions = r.body.infusions.filter((inf) => !only || inf.patient_id === only);
    const list = document.getElementById("in-progress-list");
    list.replaceChildren();
    for (const inf of infusions) {
      const li = document.createElement("li");
      const title = document.createElement("p");
      title.textContent = "Bag " + inf.bag_id + " · subject " + inf.subject_id + " · started " +
        new Date(inf.started_at).toLocaleTimeString() + (inf.ward ? " · " + inf.ward : "");
      const form = document.createElement("form");
      form.noValidate = true;
      form.className = "end-in-progress";
      form.dataset.infusion = inf.id;
      form.innerHTML = '<label>Volume infused (mL) <input name="volume_ml" type="number" step="0.1" min="0" required></label>' +
        '<label>Reactions (leave empty if none) <input name="reactions" maxlength="2000"></label>' +
        '<button type="submit" class="primary">End infusion</button>';
      form.querySelector('[name="volume_ml"]').max = inf.bag_volume_ml;
      form.addEventListener("input", (ev) => liveCheck(ev.target));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        if (firstInvalid(form)) return;
        const b = formBody(form);
        submitJSON(form, "/api/v1/infusions/" + inf.id + "/end", { volume_ml: b.volume_ml, reactions: b.reactions || "" }, () => {
          flash("Infusion of bag " + inf.bag_id + " ended.");
          showInProgress();
        });
      });
      li.append(title, form);
      list.append(li);
    }
    box.hidden = infusions.length === 0;
  }

  function endInfusion(form) {
    if (firstInvalid(form)) return;
    const b = formBody(form);
    submitJSON(form, "/api/v1/infusions/" + infusion.id + "/end", { volume_ml: b.volume_ml, reactions: b.reactions || "" }, (inf) => {
      form.hidden = true;
      const done = document.getElementById("infusion-done");
      done.textContent = "Infusion ended at " + new Date(inf.ended_at).toLocaleTimeString() + ": " + inf.volume_ml + " mL" + (inf.reactions ? ", reactions: " + inf.reactions : ", no reactions") + ".";
      done.hidden = false;
    });
  }

  // scanAgain goes back to the form after a STOP that can be put right here, keeping what was
  // right: the wristband is scanned again when it did not match, the witness's password typed
  // again when it failed; the bag's scan stays.
  function scanAgain() {
    const form = document.getElementById("bedside");
    const failed = new Set((verification ? verification.checks : []).filter((c) => !c.pass).map((c) => c.code));
    const clear = [];
    if (failed.has("PATIENT_MATCH")) clear.push("wristband");
    if (failed.has("WITNESS")) clear.push("witness-password");
    if (failed.has("LABEL_AUTHENTIC")) clear.push("bag-code");
    for (const id of clear) {
      const el = document.getElementById(id);
      el.value = "";
      delete el.dataset.stepCode;
    }
    verification = null;
    form.hidden = false;
    document.getElementById("verdict").hidden = true;
    document.getElementById("verdict-announce").textContent = "";
    document.getElementById(clear[0] || "wristband").focus();
  }

  // bedsideScanField is where keys typed after a bedside STOP go: the form comes back as
  // "Scan again" leaves it, and they go to the first field it cleared (the wristband, the
  // witness's password), or else replace the bag's code (another bag). After a PASS they go
  // nowhere: the infusion is next.
  function bedsideScanField() {
    if (!verification || verification.pass) return null;
    scanAgain();
    let to = document.activeElement;
    if (!to || to.value !== "") {
      to = document.getElementById("bag-code");
      to.value = "";
    }
    return to;
  }

  function startOver() {
    verification = null;
    infusion = null;
    const form = document.getElementById("bedside");
    form.reset();
    restoreRemembered(form);
    updateEntryReason(form, false);
    form.hidden = false;
    document.getElementById("verdict").hidden = true;
    document.getElementById("verdict-announce").textContent = "";
    document.getElementById("wristband").focus();
  }

  // ---------- camera ----------

  let stream = null;

  // startCamera reads a QR code with the browser's BarcodeDetector where there is one, and
  // with the jsQR decoder shipped with the page otherwise: both work offline.
  async function startCamera(targetID) {
    const box = document.getElementById("camera");
    const video = document.getElementById("camera-video");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      flash("This device offers no camera to the page. Use the scanner, or type the id printed under the code.");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (e) {
      flash("The camera could not be opened (" + e.name + "). Allow the camera for this site, or use the scanner.");
      return;
    }
    video.srcObject = stream;
    box.hidden = false;
    await video.play();
    const detector = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    if (!detector) loadDecoder();
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const tick = async () => {
      if (!stream) return;
      let text = null;
      if (detector) {
        const found = await detector.detect(video).catch(() => []);
        if (found.length) text = found[0].rawValue;
      } else if (window.jsQR && video.videoWidth) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        ctx.drawImage(video, 0, 0);
        const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        const code = window.jsQR(img.data, img.width, img.height);
        if (code) text = code.data;
      }
      if (text) {
        const target = document.getElementById(targetID);
        target.value = text;
        target.dataset.entry = "camera";
        stopCamera();
        if (!("scan" in target.dataset) || stepDone(target)) focusNext(target);
        return;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  // loadDecoder fetches the jsQR decoder, most of the bedside page's weight, only when a camera
  // without a built-in detector is opened: the scanner is the usual way, the camera the fallback.
  let decoder = null;
  function loadDecoder() {
    if (window.jsQR || decoder) return;
    decoder = document.createElement("script");
    decoder.src = "/static/vendor/jsQR.js";
    decoder.onerror = () => {
      decoder = null;
      flash("The camera's decoder could not be loaded. Use the scanner, or type the id printed under the code.");
    };
    document.head.append(decoder);
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    const box = document.getElementById("camera");
    if (box) box.hidden = true;
  }

  function focusNext(el) {
    const next = el.dataset.next && document.getElementById(el.dataset.next);
    if (next) next.focus();
  }

  // ---------- remembered fields (ward, temperature) ----------

  function restoreRemembered(root) {
    root.querySelectorAll("[data-remember]").forEach((el) => {
      // A device's own settings (its scanner's prefix) outlive the session; the rest do not.
      const store = "device" in el.dataset ? localStorage : sessionStorage;
      const v = store.getItem("cordtrace." + el.dataset.remember);
      if (v !== null && el.value === "") el.value = v;
      el.addEventListener("change", () => store.setItem("cordtrace." + el.dataset.remember, el.value));
    });
  }

  // ---------- live previews ----------

  let bv2Timer = null;
  function bv2Preview(form) {
    const out = document.getElementById("bv2-preview");
    const b = formBody(form);
    const all = [].concat(b.baseline || [], b.lps || [], b.treated || []);
    if (all.some((v) => v === null || Number.isNaN(v))) {
      out.className = "preview";
      out.textContent = "Type the nine replicate values: validity and inhibition appear here.";
      return;
    }
    clearTimeout(bv2Timer);
    bv2Timer = setTimeout(async () => {
      const r = await api("POST", "/api/v1/qc/bv2-preview", { analyte: b.analyte, baseline: b.baseline, lps: b.lps, treated: b.treated });
      if (!r.ok) { out.className = "preview fail"; out.textContent = errorText(r); return; }
      const p = r.body;
      const passes = p.valid && p.inhibition_pct >= p.min_inhibition_pct;
      out.className = "preview " + (passes ? "pass" : "fail");
      out.textContent = (p.valid ? "Valid assay" : "INVALID assay: " + p.invalid_reason) + " · inhibition " + p.inhibition_pct.toFixed(1) + " % (limit ≥ " + p.min_inhibition_pct + " %)";
    }, 250);
  }

  // sci writes a cell count as the pages do elsewhere: 7.00 × 10^7.
  function sci(n) {
    const [m, e] = n.toExponential(2).split("e");
    return m + " × 10^" + Number(e);
  }

  function drawPreview(form) {
    const out = document.getElementById("draw");
    const cells = Number(form.querySelector('[name="viable_cells"]').value);
    const vol = Number(form.querySelector('[name="volume_ml"]').value);
    const target = Number(form.dataset.target);
    const tol = Number(form.dataset.tolerance);
    let picked = 0;
    form.querySelectorAll('[data-kind="ids"]:checked').forEach((c) => (picked += Number(c.dataset.cells)));
    const lots = new Set([...form.querySelectorAll('[data-kind="ids"]:checked')].map((c) => c.dataset.lot));
    const lines = [];
    if (picked) lines.push("Units ticked hold " + sci(picked) + " viable cells before thaw.");
    if (lots.size > 1) lines.push("The units come from " + lots.size + " lots: a bag holds units of one lot only.");
    if (cells > 0 && vol > 0) {
      const draw = (target / cells) * vol;
      lines.push("Volume to draw: " + draw.toFixed(1) + " mL of " + vol + " mL.");
      if (cells < target * (1 - tol / 100)) lines.push("The bag holds less than the target dose less " + tol + " %: it cannot give the ordered dose.");
      if (cells > target * (1 + tol / 100)) lines.push("The bag holds more than the target dose plus " + tol + " %: it cannot fill the order.");
    }
    const overUnits = picked > 0 && cells > picked;
    if (overUnits) lines.push("The bag's " + sci(cells) + " viable cells exceed the " + sci(picked) + " of the units ticked: a bag never holds more than its units.");
    out.textContent = lines.join(" ") || "Enter the viable cells and the volume to see the volume to draw.";
    out.className = "preview" + (lots.size > 1 || overUnits || (cells > 0 && Math.abs(cells - target) > target * tol / 100) ? " fail" : "");
  }

  // cellsText writes a cell count as the pages do: 7.25 × 10^7.
  // weightPreview shows, as a weight is typed, the target dose an order would get from it:
  // the protocol's cells per kg (the server's, from data-cells-per-kg) × the weight. The
  // server computes the order's target again when it is placed.
  function weightPreview(form) {
    const out = document.getElementById("weight-target");
    if (!out) return;
    const field = form.querySelector('[name="weight_kg"]');
    const kg = Number(field.value);
    if (field.value === "" || !field.checkValidity()) {
      out.className = "preview";
      out.textContent = "Type the weight to see the target dose it gives.";
      return;
    }
    const target = Math.round(kg * Number(form.dataset.cellsPerKg));
    out.className = "preview pass";
    out.textContent = "At " + kg + " kg the target dose is " + (target > 0 ? sci(target) : "0") + " viable cells.";
    // A change beyond the limit needs a reason (the server decides; this only asks early).
    const prev = Number(form.dataset.previousKg), reason = form.querySelector('[name="reason"]');
    if (prev > 0 && reason) {
      const change = (kg - prev) / prev * 100;
      reason.required = Math.abs(change) > Number(form.dataset.reasonPct);
      if (reason.required) {
        out.className = "preview fail";
        out.textContent += " That is " + (change > 0 ? "+" : "") + change.toFixed(1) + " % from the last weight of " + prev + " kg: give the reason for the change.";
      }
    }
  }

  // ---------- wiring ----------

  function localNow() {
    const d = new Date();
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
    return d.toISOString().slice(0, 16);
  }

  document.addEventListener("DOMContentLoaded", () => {
    // Until now a form could not be sent (its button is disabled, so Enter does nothing and a
    // scan stays in its field): sent by the browser itself it would lose the scan, or carry a
    // patient's MRN in an address.
    document.querySelectorAll("[data-until-ready]").forEach((b) => { b.disabled = false; });
    document.querySelectorAll("form[data-api]").forEach((form) => {
      restoreRemembered(form);
      form.querySelectorAll('[data-default="now"]').forEach((el) => { if (!el.value) el.value = localNow(); });
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        handlers[form.dataset.api](form);
      });
      form.addEventListener("input", (ev) => {
        if (ev.target.name) liveCheck(ev.target);
        if (form.id === "bv2") bv2Preview(form);
        if (form.id === "prepare") drawPreview(form);
        if (form.dataset.cellsPerKg) weightPreview(form);
      });
      form.addEventListener("change", (ev) => {
        if (form.id === "prepare") drawPreview(form);
        if (form.id === "bedside" && ev.target.id === "entry-reason") updateEntryReason(form, true);
      });
    });

    document.addEventListener("keydown", redirectScan, true);

    // Scanners end with Enter: in a step of the bedside form, Enter moves on to the next step
    // instead of submitting half a form.
    document.querySelectorAll("[data-scan]").forEach(watchEntry);
    document.querySelectorAll("[data-next]").forEach((el) => {
      el.addEventListener("keydown", (ev) => {
        if (ev.key !== "Enter") return;
        ev.preventDefault();
        if ("scan" in el.dataset && !stepDone(el)) return;
        focusNext(el);
      });
    });

    document.querySelectorAll("[data-post]").forEach((btn) => {
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        const r = await api("POST", btn.dataset.post, {});
        btn.disabled = false;
        if (!r.ok) { flash(errorText(r)); return; }
        if (btn.dataset.then === "reload") location.reload();
      });
    });

    document.querySelectorAll("[data-open]").forEach((btn) => {
      btn.addEventListener("click", () => {
        const d = document.getElementById(btn.dataset.open);
        d.showModal();
        const first = d.querySelector("input[type=password]");
        if (first) first.focus();
      });
    });
    document.querySelectorAll("dialog [data-close]").forEach((btn) => btn.addEventListener("click", () => btn.closest("dialog").close()));

    const signAction = document.querySelector('#sign-dialog [name="action"]');
    if (signAction) {
      signAction.addEventListener("change", () => {
        document.getElementById("sign-meaning").textContent = signAction.selectedOptions[0].dataset.meaning;
        const reason = document.querySelector('#sign-dialog [name="reason"]');
        reason.required = signAction.value !== "release";
      });
    }

    const cam = document.getElementById("camera-button");
    if (cam) cam.addEventListener("click", () => startCamera(cam.dataset.camera));
    const camStop = document.getElementById("camera-stop");
    if (camStop) camStop.addEventListener("click", stopCamera);
    const start = document.getElementById("start-infusion");
    if (start) start.addEventListener("click", startInfusion);
    showInProgress();
    const rescan = document.getElementById("scan-again");
    if (rescan) rescan.addEventListener("click", scanAgain);
    const again = document.getElementById("verify-again");
    if (again) again.addEventListener("click", startOver);

    // The dispatch and receipt pages keep the scan field focused: a scan must never go into
    // another field or nowhere.
    const scan = document.getElementById("scan-input");
    if (scan) {
      document.addEventListener("click", (ev) => { if (!ev.target.closest("input, select, button, a")) scan.focus(); });
    }
  });
})();
