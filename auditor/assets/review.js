// The review page: select a finding, hear it, decide. Text from recordings and transcripts is set
// with textContent only; markup comes from the server, already escaped.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("review-data").textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.finding"));
  var player = document.getElementById("player");
  var playerStatus = document.getElementById("player-status");
  var decideStatus = document.getElementById("decide-status");
  var note = document.getElementById("note");
  var reviewer = document.getElementById("reviewer");
  var current = -1;
  var NAME_KEY = "auditor-reviewer";

  function clock(t) {
    t = Math.max(0, Math.floor(t));
    var h = Math.floor(t / 3600), m = Math.floor(t % 3600 / 60), s = t % 60;
    var mm = (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm : mm;
  }
  function setText(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value === null || value === undefined ? "" : String(value); }
  }
  function say(el, text) { if (el) { el.textContent = text; } }

  if (reviewer) {
    var saved = null;
    try { saved = window.localStorage.getItem(NAME_KEY); } catch (e) { saved = null; }
    reviewer.value = saved || DATA.reviewer || "";
    reviewer.addEventListener("change", function () {
      try { window.localStorage.setItem(NAME_KEY, reviewer.value.trim()); } catch (e) { /* private mode */ }
    });
  }

  // -- the player ------------------------------------------------------------------------------

  function playAt(url, t, label) {
    t = Math.max(0, t);
    say(playerStatus, label);
    if (player.dataset.current !== url) {
      player.dataset.current = url;
      player.src = url;
      player.addEventListener("loadedmetadata", function () {
        if (Math.abs(player.currentTime - t) > 0.25) { player.currentTime = t; }
      }, { once: true });
      player.currentTime = t;  // the default playback start position until metadata is in
    } else {
      player.currentTime = t;
    }
    var started = player.play();
    if (started && started.catch) {
      started.catch(function (err) {
        if (err.name === "AbortError") { return; }  // another finding was chosen meanwhile
        say(playerStatus, "Cannot play this here (" + err.name + "); try ▶ clip.");
      });
    }
  }
  function playFinding(f) {
    playAt(f.media, f.start - DATA.lead, "recording at " + clock(f.start) + " (" + f.category + ")");
  }
  function playClip(f) { playAt(f.clip, 0, "evidence clip of " + clock(f.start) + " (" + f.category + ")"); }
  player.addEventListener("error", function () {
    var code = player.error ? player.error.code : "?";
    say(playerStatus, "This browser cannot play it (media error " + code + "); try ▶ clip, or " +
        "open the recording in a media player.");
  });

  // -- the detail pane -------------------------------------------------------------------------

  function evidence(f) {
    var parts = [f.match];
    if (f.term && f.term !== f.matched) { parts.push("term " + f.term); }
    parts.push("confidence " + Number(f.confidence).toFixed(2));
    if (f.heard_logprob !== null && f.term_logprob !== null) {
      parts.push("heard " + Number(f.heard_logprob).toFixed(2) + " vs term " +
                 Number(f.term_logprob).toFixed(2) + " (log-probability)");
    }
    parts.push(f.channel);
    return parts.join(" · ");
  }
  function whyText(why) {
    return Object.keys(why || {}).map(function (k) { return k + " " + why[k]; }).join(" + ");
  }
  function decisionText(f) {
    if (!f.reviewer) { return f.decision; }
    return f.decision + " by " + f.reviewer + " at " + f.decided + (f.note ? ": " + f.note : "");
  }
  function showHistory(f) {
    var list = document.getElementById("history");
    list.replaceChildren();
    fetch("/api/history/" + encodeURIComponent(f.id), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) {
        if (DATA.findings[current] !== f) { return; }
        list.replaceChildren();
        items.forEach(function (d) {
          var li = document.createElement("li");
          li.textContent = d.decided + "  " + d.decision + " by " + d.reviewer +
            (d.note ? ": " + d.note : "");
          list.appendChild(li);
        });
        if (!items.length) {
          var li = document.createElement("li");
          li.className = "muted";
          li.textContent = "never decided";
          list.appendChild(li);
        }
      });
  }
  function select(index, play) {
    if (index < 0 || index >= rows.length) { return; }
    if (current >= 0) { rows[current].classList.remove("current"); }
    current = index;
    var row = rows[index], f = DATA.findings[index];
    row.classList.add("current");
    row.scrollIntoView({ block: "nearest" });
    setText("d-title", clock(f.start) + "  " + f.severity + "  " + f.category);
    var said = document.getElementById("d-said");
    said.replaceChildren.apply(said, Array.prototype.map.call(
      row.querySelector("td.said .sentence").childNodes, function (n) { return n.cloneNode(true); }));
    setText("d-law", f.legal_basis);
    setText("d-rule", f.rule);
    setText("d-match", evidence(f));
    setText("d-why", whyText(f.why) || "—");
    setText("d-source", f.source);
    document.getElementById("d-recording").setAttribute("href", f.recording);
    setText("d-decision", decisionText(f));
    if (note) { note.value = f.note || ""; }
    showHistory(f);
    if (play) { playFinding(f); }
  }

  // -- decisions -------------------------------------------------------------------------------

  function updateCounts(counts) {
    Object.keys(counts).forEach(function (d) { setText("count-" + d, counts[d]); });
  }
  function decide(decision) {
    if (DATA.readOnly || current < 0) { return; }
    var name = reviewer ? reviewer.value.trim() : "";
    if (!name) {
      say(decideStatus, "Enter your name (reviewer, top right) first.");
      if (reviewer) { reviewer.focus(); }
      return;
    }
    try { window.localStorage.setItem(NAME_KEY, name); } catch (e) { /* private mode */ }
    var index = current, f = DATA.findings[index], row = rows[index];
    var seen = {};
    seen[f.id] = f.decision_id;
    var label = clock(f.start) + " 「" + f.matched + "」";
    f.pending = true;
    row.classList.add("pending");
    row.classList.remove("failed");
    say(decideStatus, "saving " + decision + " for " + label + "…");
    fetch("/api/decide", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": DATA.csrf },
      body: JSON.stringify({
        ids: [f.id], decision: decision, reviewer: name, seen: seen,
        note: note && index === current ? note.value : f.note, query: window.location.search
      })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (out) {
      f.pending = false;
      row.classList.remove("pending");
      if (!out.ok) {
        row.classList.add("failed");
        say(decideStatus, "Not saved (" + label + "): " + out.body.error);
        return;
      }
      var change = out.body.changes[0];
      var made = change.decision;
      f.decision = made.decision;
      f.decision_id = made.history_row;
      f.reviewer = made.reviewer;
      f.decided = made.decided;
      f.note = made.note;
      row.dataset.decision = made.decision;
      row.querySelector("td.decision").textContent = made.decision;
      updateCounts(out.body.counts);
      var message = label + ": " + made.decision + " (saved)";
      if (change.conflict && change.previous) {
        var p = change.previous;
        message += ". Meanwhile " + p.reviewer + " had made it " + p.decision + " at " +
          p.decided + "; yours is now the current decision, and both are in the history.";
      }
      if (index === current) {
        setText("d-decision", decisionText(f));
        showHistory(f);
      }
      say(decideStatus, message);
    }).catch(function (err) {
      f.pending = false;
      row.classList.remove("pending");
      row.classList.add("failed");
      say(decideStatus, "Not saved (" + label + "): " + err);
    });
    // On to the next open finding at once: a reviewer does not wait for the database.
    if (decision !== "open") { nextOpen(); }
  }
  function nextOpen() {
    for (var i = current + 1; i < rows.length; i++) {
      var f = DATA.findings[i];
      if (f.decision === "open" && !f.pending) { select(i, true); return; }
    }
  }

  // -- clicks and keys -------------------------------------------------------------------------

  rows.forEach(function (row, index) {
    row.addEventListener("click", function () { select(index, true); });
  });
  function on(id, action) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener("click", action); }
  }
  on("confirm", function () { decide("confirmed"); });
  on("dismiss", function () { decide("dismissed"); });
  on("reopen", function () { decide("open"); });
  on("play", function () { if (current >= 0) { playFinding(DATA.findings[current]); } });
  on("play-clip", function () { if (current >= 0) { playClip(DATA.findings[current]); } });
  if (note) {
    note.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        var f = DATA.findings[current];
        if (f) { decide(f.decision); }  // the note, with the decision as it stands
        note.blur();
      } else if (event.key === "Escape") {
        note.blur();
      }
    });
  }
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (el instanceof Element && el.closest("input, textarea, select, button")) {
      if (!(el.closest("button") && event.key.length === 1 && event.key !== " ")) { return; }
    }
    var keys = {
      j: function () { select(current + 1, true); },
      ArrowDown: function () { select(current + 1, true); },
      k: function () { select(current - 1, true); },
      ArrowUp: function () { select(current - 1, true); },
      p: function () { if (current >= 0) { playFinding(DATA.findings[current]); } },
      " ": function () { if (player.paused) { player.play(); } else { player.pause(); } },
      c: function () { decide("confirmed"); },
      d: function () { decide("dismissed"); },
      o: function () { decide("open"); },
      n: function () { if (note) { note.focus(); } }
    };
    var action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
  if (rows.length) { select(0, false); }
}());
