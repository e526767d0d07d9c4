// The operator dashboard: everything comes from the service's own API with
// the operator's admin key, kept in this tab's sessionStorage only.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var key = sessionStorage.getItem("hg-admin-key") || "";

  function api(path, opts) {
    opts = opts || {};
    opts.headers = Object.assign({ "Authorization": "Bearer " + key }, opts.headers || {});
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error((body.error && body.error.message) || r.statusText); }
        return body;
      });
    });
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function fill(id, rows, render, empty) {
    var tbody = $(id).querySelector("tbody");
    tbody.innerHTML = "";
    if (!rows.length) {
      var tr = document.createElement("tr");
      cell(tr, empty).colSpan = 5;
      tbody.appendChild(tr);
      return;
    }
    rows.forEach(function (r) { var tr = document.createElement("tr"); render(tr, r); tbody.appendChild(tr); });
  }

  function fmt(v) { return v == null ? "–" : (Math.round(v * 10) / 10).toString(); }

  function loadAlerts() {
    return api("/v1/surveillance/alerts").then(function (b) {
      var rows = b.alerts.slice().reverse();
      fill("alerts", rows, function (tr, a) {
        cell(tr, a.day); cell(tr, a.key, "mono"); cell(tr, a.method);
        cell(tr, a.observed, "num"); cell(tr, fmt(a.expected), "num");
      }, "No alerts.");
    });
  }

  function loadReview() {
    return api("/v1/admin/indicators?status=pending_review").then(function (b) {
      fill("review", b.indicators, function (tr, ind) {
        cell(tr, ind.type); cell(tr, ind.value, "mono"); cell(tr, ind.source); cell(tr, ind.first_seen.slice(0, 10));
        var td = cell(tr, "");
        [["activate", "Activate", "Reviewed: malicious"], ["retire", "Retire", "Reviewed: harmless"]].forEach(function (a) {
          var btn = document.createElement("button");
          btn.type = "button"; btn.textContent = a[1]; btn.className = a[0];
          btn.setAttribute("aria-label", a[1] + " " + ind.value);
          btn.addEventListener("click", function () {
            api("/v1/admin/indicators/" + ind.id + "/" + a[0], {
              method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason: a[2] })
            }).then(loadReview, showError);
          });
          td.appendChild(btn);
          td.appendChild(document.createTextNode(" "));
        });
      }, "Nothing to review.");
    });
  }

  function loadCCM() {
    return api("/v1/surveillance/ccm?days=30").then(function (b) {
      fill("ccm", b.days.slice().reverse(), function (tr, d) {
        cell(tr, d.day);
        cell(tr, fmt(d.protected.per_mille) + " ‰ of " + d.protected.reporting, "num");
        cell(tr, fmt(d.unprotected.per_mille) + " ‰ of " + d.unprotected.reporting, "num");
        cell(tr, d.relative_risk == null ? "–" : fmt(d.relative_risk) + "×", "num");
      }, "No closed days yet.");
    });
  }

  function plot(k) {
    return api("/v1/surveillance/prevalence?days=30&key=" + encodeURIComponent(k)).then(function (b) {
      var svg = $("prev-chart"), w = 640, h = 160, pad = 24;
      svg.innerHTML = "";
      var pts = b.days, maxV = Math.max.apply(null, pts.map(function (p) { return p.devices; }).concat([1]));
      var ns = "http://www.w3.org/2000/svg";
      pts.forEach(function (p, i) {
        var bw = (w - 2 * pad) / Math.max(pts.length, 1);
        var bh = (h - 2 * pad) * p.devices / maxV;
        var r = document.createElementNS(ns, "rect");
        r.setAttribute("x", pad + i * bw); r.setAttribute("y", h - pad - bh);
        r.setAttribute("width", Math.max(bw - 2, 1)); r.setAttribute("height", bh); r.setAttribute("fill", "#1677ff");
        var t = document.createElementNS(ns, "title");
        t.textContent = p.day + ": " + p.devices + " devices";
        r.appendChild(t);
        svg.appendChild(r);
      });
      svg.setAttribute("aria-label", k + ": " + pts.map(function (p) { return p.day + " " + p.devices; }).join(", "));
    });
  }

  function showError(err) {
    var p = document.createElement("p");
    p.className = "error"; p.setAttribute("role", "alert"); p.textContent = err.message;
    $("login").appendChild(p);
  }

  function show() {
    ["alerts-section", "review-section", "ccm-section", "prevalence-section"].forEach(function (id) { $(id).hidden = false; });
    Promise.all([loadAlerts(), loadReview(), loadCCM(), plot($("prev-key").value)]).catch(showError);
  }

  fetch("/healthz").then(function (r) { return r.json(); }).then(function (b) {
    $("service").textContent = "service " + b.status + " · version " + b.version;
  });
  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    key = $("key").value.trim();
    sessionStorage.setItem("hg-admin-key", key);
    show();
  });
  $("prev-form").addEventListener("submit", function (e) { e.preventDefault(); plot($("prev-key").value).catch(showError); });
  if (key) { $("key").value = key; show(); }
})();
