(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("auditor-data").textContent);
  function clock(t) {
    t = Math.max(0, Math.floor(t));
    var m = Math.floor(t / 60), s = t % 60;
    return (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }
  function say(rec, text) {
    var el = document.getElementById("status-" + rec);
    if (el) { el.textContent = text; }
  }
  function playAt(rec, url, t, label) {
    var player = document.getElementById("player-" + rec);
    if (!player) { return; }
    t = Math.max(0, t);
    say(rec, label);
    if (player.dataset.current !== url) {
      player.dataset.current = url;
      player.src = url + "#t=" + t.toFixed(2);
      player.addEventListener("loadedmetadata", function () {
        if (Math.abs(player.currentTime - t) > 0.25) { player.currentTime = t; }
      }, { once: true });
    } else {
      player.currentTime = t;
    }
    var started = player.play();
    if (started && started.catch) {
      started.catch(function (err) {
        say(rec, "Cannot play " + url + " here (" + err.name + "); open it in a media " +
            "player at " + clock(t) + ".");
      });
    }
  }
  function playSource(rec, t, label) {
    playAt(rec, DATA.recordings[rec].media, t, label || ("recording from " + clock(t)));
  }
  function markCurrent(rec, index) {
    document.querySelectorAll("#rec-" + rec + " tr.finding.current").forEach(function (row) {
      row.classList.remove("current");
    });
    var row = document.getElementById("f-" + rec + "-" + index);
    if (row) { row.classList.add("current"); }
  }
  function playFinding(rec, index, preferClip) {
    var f = DATA.recordings[rec].findings[index];
    markCurrent(rec, index);
    var name = "finding " + (index + 1) + " (" + f.category + ")";
    if (f.clip && preferClip) {
      playAt(rec, f.clip, 0, "evidence clip of " + name);
    } else {
      playSource(rec, f.start - DATA.lead, name + " at " + clock(f.start));
    }
  }
  document.addEventListener("click", function (event) {
    var el = event.target;
    if (!(el instanceof Element)) { return; }
    var seekTo = el.closest(".seek-to");
    var section = el.closest("section.recording");
    if (!section) { return; }
    var rec = Number(section.dataset.rec);
    if (seekTo) { playSource(rec, Number(seekTo.dataset.t)); return; }
    var finding = el.closest("[data-finding]");
    if (finding) {
      // In the table only the buttons play, so text can still be selected and copied.
      if (finding.tagName === "TR" && !el.closest("button")) { return; }
      var index = Number(finding.getAttribute("data-finding"));
      playFinding(rec, index, el.closest(".seek, .shot-button") === null);
      return;
    }
    var svg = el.closest("svg.timeline");
    if (svg) {
      var box = svg.getBoundingClientRect();
      var view = svg.viewBox.baseVal;
      var x = view.x + (event.clientX - box.left) / box.width * view.width;
      playSource(rec, x / 1000 * Number(svg.dataset.duration));
    }
  });
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (!(el instanceof Element) || !el.matches(".marker")) { return; }
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      var rec = Number(el.getAttribute("data-rec"));
      playFinding(rec, Number(el.getAttribute("data-finding")), true);
    }
  });
  document.querySelectorAll("section.recording").forEach(function (section) {
    var rec = Number(section.dataset.rec);
    var player = document.getElementById("player-" + rec);
    var head = section.querySelector(".playhead");
    var duration = Number(section.querySelector("svg.timeline").dataset.duration);
    if (player) {
      player.dataset.current = DATA.recordings[rec].media;
      player.addEventListener("error", function () {
        var code = player.error ? player.error.code : "?";
        say(rec, "This browser cannot play " + player.dataset.current + " (media error " +
            code + "). Open the file in a media player at the finding's time.");
      });
      player.addEventListener("timeupdate", function () {
        if (head && player.dataset.current === DATA.recordings[rec].media) {
          var x = (player.currentTime / duration * 1000).toFixed(1);
          head.setAttribute("x1", x);
          head.setAttribute("x2", x);
        }
      });
    }
    var form = section.querySelector("form.filters");
    if (!form) { return; }
    function apply() {
      var on = function (cls) {
        var set = new Set();
        form.querySelectorAll("input." + cls).forEach(function (box) {
          if (box.checked) { set.add(box.value); }
        });
        return set;
      };
      var sev = on("f-sev"), cat = on("f-cat"), chan = on("f-chan"), shown = 0;
      section.querySelectorAll("[data-finding]").forEach(function (el) {
        var visible = sev.has(el.getAttribute("data-severity")) &&
            cat.has(el.getAttribute("data-category")) &&
            chan.has(el.getAttribute("data-channel"));
        if (el.tagName === "TR") {
          el.hidden = !visible;
          if (visible) { shown += 1; }
        } else {
          el.classList.toggle("off", !visible);
        }
      });
      form.querySelector(".shown").textContent = String(shown);
    }
    form.addEventListener("change", apply);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    apply();
  });
})();
