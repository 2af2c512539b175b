/* Keeps the server-rendered countdowns live (the page is right without this script).
 * Same rule as relying_party.elections.timefmt.countdown: minutes rounded up, time left computed from absolute
 * instants, corrected by the difference between the server's clock (data-now) and this device's.
 * Accessibility: the figures (role="timer") are never announced by themselves; the polite status region speaks
 * only when something changes for the voter: opening, one hour left, ten minutes left, closing. */
(function () {
  "use strict";
  var HEADINGS = { before: "Ouverture du vote dans", open: "Fermeture du vote dans", closed: "Le vote est clos" };
  var THRESHOLDS = [
    [60, "Fermeture du vote dans une heure."],
    [10, "Fermeture du vote dans dix minutes."]
  ];

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function state(opensAt, closesAt, now) {
    if (now >= closesAt) { return { phase: "closed", minutes: 0 }; }
    var phase = now < opensAt ? "before" : "open";
    var target = phase === "before" ? opensAt : closesAt;
    return { phase: phase, minutes: Math.ceil((target - now) / 60000) };
  }

  function start(section) {
    var opensAt = Date.parse(section.getAttribute("data-opens-at"));
    var closesAt = Date.parse(section.getAttribute("data-closes-at"));
    var skew = Date.parse(section.getAttribute("data-now")) - Date.now();
    if (isNaN(opensAt) || isNaN(closesAt) || isNaN(skew)) { return; }
    var heading = section.querySelector("[data-countdown-heading]");
    var figures = section.querySelector("[data-countdown-figures]");
    var status = section.querySelector("[data-countdown-status]");
    var values = {};
    var labels = {};
    ["days", "hours", "minutes"].forEach(function (unit) {
      values[unit] = section.querySelector('[data-unit="' + unit + '"]');
      labels[unit] = section.querySelector('[data-label="' + unit + '"]');
    });
    var previous = state(opensAt, closesAt, Date.now() + skew);

    function announce(text) { if (status) { status.textContent = text; } }

    function tick() {
      var current = state(opensAt, closesAt, Date.now() + skew);
      var total = current.minutes;
      var parts = { days: Math.floor(total / 1440), hours: Math.floor((total % 1440) / 60), minutes: total % 60 };
      Object.keys(parts).forEach(function (unit) {
        var text = pad(parts[unit]);
        if (values[unit] && values[unit].textContent !== text) { values[unit].textContent = text; }
        var label = labels[unit];
        if (label) {
          // French: 0 and 1 take the singular (« 00 minute », « 01 jour »), as the server's Babel says.
          var word = label.getAttribute(parts[unit] < 2 ? "data-one" : "data-other");
          if (word && label.textContent !== word) { label.textContent = word; }
        }
      });
      if (current.phase !== previous.phase) {
        if (heading) { heading.textContent = HEADINGS[current.phase]; }
        if (figures) { figures.hidden = current.phase === "closed"; }
        announce(current.phase === "open" ? "Le vote est ouvert." : current.phase === "closed" ? "Le vote est clos." : "");
      } else if (current.phase === "open") {
        THRESHOLDS.forEach(function (threshold) {
          if (previous.minutes > threshold[0] && current.minutes <= threshold[0]) { announce(threshold[1]); }
        });
      }
      previous = current;
      if (current.phase === "closed") { return; }
      window.setTimeout(tick, 1000 * (15 - (new Date().getSeconds() % 15)));
    }
    tick();
  }

  var sections = document.querySelectorAll("[data-countdown]");
  for (var i = 0; i < sections.length; i++) { start(sections[i]); }
}());
