// The operator dashboard: everything comes from the service's own API with
// the operator's admin key, kept in this tab's sessionStorage only (never
// in the URL, localStorage or a log) until the operator logs out or the
// service refuses it. Every server value is shown with textContent.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var KEY = "hg-admin-key";
  var SECTIONS = ["alerts-section", "review-section", "ccm-section", "prevalence-section"];

  var TEXT = {
    "en": {
      title: "Healthgate · operator dashboard",
      language: "Language",
      logout: "Log out",
      loginForm: "Operator key",
      keyLabel: "Operator API key (scope admin)",
      show: "Show",
      hintCreate: "Create one with",
      hintTab: ". The key stays in this tab until you log out.",
      alerts: "Outbreak alerts",
      alertsCaption: "Outbreak alerts of the last days, newest first",
      day: "Day", what: "What", method: "Method", devices: "Devices", expected: "Expected",
      review: "Indicators pending review",
      reviewHint: "Surveillance promotes new artifacts spreading across devices. Activate one to put it on every agent's protective feed (and share it with partners), or retire it.",
      reviewCaption: "Indicators waiting for an analyst",
      type: "Type", value: "Value", source: "Source", firstSeen: "First seen", actions: "Actions",
      ccm: "Malware per thousand devices",
      ccmCaption: "Devices found running known malware per thousand reporting devices, with and without working antivirus, per closed day",
      protected: "Protected", unprotected: "Unprotected", risk: "Relative risk",
      prevalence: "Prevalence",
      prevKey: "Finding or artifact",
      plot: "Plot",
      activate: "Activate", retire: "Retire",
      activateReason: "Reviewed: malicious", retireReason: "Reviewed: harmless",
      noAlerts: "No alerts.", noReview: "Nothing to review.", noDays: "No closed days yet.",
      perMille: function (v, n) { return v + " ‰ of " + n; },
      chartLabel: "Devices per day",
      noData: function (k) { return "No data for " + k + " in the last 30 days."; },
      summary: function (k, n, max, day) { return k + ": " + n + " days; at most " + max + " devices, on " + day + "."; },
      bar: function (day, n) { return day + ": " + n + " devices"; },
      service: function (st, v) { return "service " + st + " · version " + v; },
      serviceDown: "The service does not answer.",
      refused: "The service refused this key: it is wrong, expired or revoked. Enter a valid operator key.",
      forbidden: "This key may not read the dashboard: it needs the admin scope. Enter an operator key.",
      network: "Healthgate could not reach the service. Check the network and try again.",
      badKey: "Write the key as family:value, for example finding:known_malware or sha256:<hex>.",
      failed: function (status, code) { return "The service answered with an error (" + status + (code ? ", " + code : "") + "). Try again later."; }
    },
    "zh-CN": {
      title: "Healthgate · 运维面板",
      language: "语言",
      logout: "退出",
      loginForm: "运维密钥",
      keyLabel: "运维 API 密钥（权限 admin）",
      show: "查看",
      hintCreate: "创建密钥：",
      hintTab: "。密钥只保存在本标签页，退出后即清除。",
      alerts: "疫情警报",
      alertsCaption: "最近几天的疫情警报，最新的在前",
      day: "日期", what: "对象", method: "方法", devices: "设备数", expected: "预期",
      review: "待审核的威胁指标",
      reviewHint: "监测系统会把在设备间扩散的新文件提交审核。启用后，它会进入每个代理的防护清单（并共享给合作方）；也可以将其停用。",
      reviewCaption: "等待分析师审核的指标",
      type: "类型", value: "值", source: "来源", firstSeen: "首次发现", actions: "操作",
      ccm: "每千台设备的恶意软件",
      ccmCaption: "每个已结束的日期中，每千台上报设备里发现运行已知恶意软件的设备数，分有无有效杀毒软件",
      protected: "有防护", unprotected: "无防护", risk: "相对风险",
      prevalence: "流行程度",
      prevKey: "发现项或文件",
      plot: "绘图",
      activate: "启用", retire: "停用",
      activateReason: "Reviewed: malicious", retireReason: "Reviewed: harmless",
      noAlerts: "没有警报。", noReview: "没有待审核的指标。", noDays: "还没有已结束的日期。",
      perMille: function (v, n) { return v + " ‰（共 " + n + " 台）"; },
      chartLabel: "每日设备数",
      noData: function (k) { return k + " 最近 30 天没有数据。"; },
      summary: function (k, n, max, day) { return k + "：" + n + " 天；最多 " + max + " 台设备，在 " + day + "。"; },
      bar: function (day, n) { return day + "：" + n + " 台设备"; },
      service: function (st, v) { return "服务 " + st + " · 版本 " + v; },
      serviceDown: "服务没有响应。",
      refused: "服务拒绝了这个密钥：密钥错误、已过期或已吊销。请输入有效的运维密钥。",
      forbidden: "这个密钥无权查看面板：需要 admin 权限。请输入运维密钥。",
      network: "无法连接服务。请检查网络后重试。",
      badKey: "请按 类别:值 的格式填写，例如 finding:known_malware 或 sha256:<十六进制>。",
      failed: function (status, code) { return "服务返回错误（" + status + (code ? "，" + code : "") + "）。请稍后重试。"; }
    }
  };

  var lang = localStorage.getItem("hg-lang");
  if (!TEXT[lang]) { lang = /^zh/i.test(navigator.language || "") ? "zh-CN" : "en"; }
  var T = function () { return TEXT[lang]; };

  var key = sessionStorage.getItem(KEY) || "";
  var gen = 0; // bumped at each login and logout: answers to older requests are dropped
  var data = {}; // the last answers, to draw again in another language
  var health = null;

  // ApiError is a failed call, with a message in the page's language.
  function fail(kind, status, code) {
    var e = new Error(kind);
    e.kind = kind; e.status = status; e.code = code;
    return e;
  }

  function api(path, opts) {
    opts = opts || {};
    opts.headers = Object.assign({ "Authorization": "Bearer " + key }, opts.headers || {});
    opts.credentials = "omit";
    opts.referrerPolicy = "no-referrer";
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        var code = body && body.error && typeof body.error.code === "string" ? body.error.code : "";
        if (r.status === 401) { throw fail("refused", 401, code); }
        if (r.status === 403) { throw fail("forbidden", 403, code); }
        if (!r.ok || !body) { throw fail(code === "bad_key" ? "badKey" : "failed", r.status, code); }
        return body;
      });
    }, function () { throw fail("network"); });
  }

  function message(err) {
    if (!err || !err.kind) { return T().failed("?", ""); }
    if (err.kind === "failed") { return T().failed(err.status, err.code); }
    return T()[err.kind];
  }

  var shownErr = null; // the error on show, to say again in another language
  function showError(err) { shownErr = err; $("message").textContent = message(err); $("message").hidden = false; }
  function clearMessage() { shownErr = null; $("message").textContent = ""; $("message").hidden = true; }

  // handle shows an error of a request made under login g; a refused key
  // logs the operator out.
  function handle(g) {
    return function (err) {
      if (g !== gen) { return; }
      if (err && (err.kind === "refused" || err.kind === "forbidden")) { logout(); }
      showError(err);
    };
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
    tbody.textContent = "";
    if (!rows) { return; }
    if (!rows.length) {
      var tr = document.createElement("tr");
      cell(tr, empty).colSpan = $(id).querySelectorAll("thead th").length;
      tbody.appendChild(tr);
      return;
    }
    rows.forEach(function (r) { var tr = document.createElement("tr"); render(tr, r); tbody.appendChild(tr); });
  }

  function fmt(v) { return v == null ? "–" : (Math.round(v * 10) / 10).toString(); }
  function str(v) { return v == null ? "" : String(v); }

  function drawAlerts() {
    fill("alerts", data.alerts && data.alerts.slice().reverse(), function (tr, a) {
      cell(tr, str(a.day)); cell(tr, str(a.key), "mono"); cell(tr, str(a.method));
      cell(tr, str(a.observed), "num"); cell(tr, fmt(a.expected), "num");
    }, T().noAlerts);
  }

  function drawReview() {
    fill("review", data.review, function (tr, ind) {
      cell(tr, str(ind.type)); cell(tr, str(ind.value), "mono"); cell(tr, str(ind.source)); cell(tr, str(ind.first_seen).slice(0, 10));
      var td = cell(tr, "");
      ["activate", "retire"].forEach(function (a) {
        var btn = document.createElement("button");
        btn.type = "button"; btn.textContent = T()[a]; btn.className = a;
        btn.setAttribute("aria-label", T()[a] + " " + str(ind.value));
        btn.addEventListener("click", function () {
          var g = gen;
          btn.disabled = true;
          api("/v1/admin/indicators/" + encodeURIComponent(ind.id) + "/" + a, {
            method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason: T()[a + "Reason"] })
          }).then(function () { if (g === gen) { clearMessage(); return loadReview(g); } })
            .catch(function (err) { btn.disabled = false; handle(g)(err); });
        });
        td.appendChild(btn);
        td.appendChild(document.createTextNode(" "));
      });
    }, T().noReview);
  }

  function drawCCM() {
    fill("ccm", data.ccm && data.ccm.slice().reverse(), function (tr, d) {
      cell(tr, str(d.day));
      cell(tr, T().perMille(fmt(d.protected.per_mille), d.protected.reporting), "num");
      cell(tr, T().perMille(fmt(d.unprotected.per_mille), d.unprotected.reporting), "num");
      cell(tr, d.relative_risk == null ? "–" : fmt(d.relative_risk) + "×", "num");
    }, T().noDays);
  }

  function drawChart() {
    var svg = $("prev-chart"), w = 640, h = 160, pad = 24;
    svg.textContent = "";
    var p = data.prev;
    if (!p) { svg.setAttribute("aria-label", T().chartLabel); $("prev-text").textContent = ""; return; }
    var pts = p.days, k = p.key;
    if (!pts.length) {
      svg.setAttribute("aria-label", T().noData(k));
      $("prev-text").textContent = T().noData(k);
      return;
    }
    var maxV = Math.max.apply(null, pts.map(function (q) { return q.devices; }).concat([1]));
    var ns = "http://www.w3.org/2000/svg", top = pts[0];
    pts.forEach(function (q, i) {
      if (q.devices > top.devices) { top = q; }
      var bw = (w - 2 * pad) / pts.length;
      var bh = (h - 2 * pad) * q.devices / maxV;
      var r = document.createElementNS(ns, "rect");
      r.setAttribute("x", pad + i * bw); r.setAttribute("y", h - pad - bh);
      r.setAttribute("width", Math.max(bw - 2, 1)); r.setAttribute("height", bh); r.setAttribute("fill", "#1677ff");
      var t = document.createElementNS(ns, "title");
      t.textContent = T().bar(q.day, q.devices);
      r.appendChild(t);
      svg.appendChild(r);
    });
    svg.setAttribute("aria-label", T().chartLabel + " · " + k + ": " + pts.map(function (q) { return T().bar(q.day, q.devices); }).join(", "));
    $("prev-text").textContent = T().summary(k, pts.length, top.devices, top.day);
  }

  function drawService() {
    $("service").textContent = health ? T().service(str(health.status), str(health.version)) : (health === false ? T().serviceDown : "…");
  }

  function loadAlerts(g) {
    return api("/v1/surveillance/alerts").then(function (b) { if (g === gen) { data.alerts = b.alerts || []; drawAlerts(); } });
  }
  function loadReview(g) {
    return api("/v1/admin/indicators?status=pending_review").then(function (b) { if (g === gen) { data.review = b.indicators || []; drawReview(); } });
  }
  function loadCCM(g) {
    return api("/v1/surveillance/ccm?days=30").then(function (b) { if (g === gen) { data.ccm = b.days || []; drawCCM(); } });
  }
  function plot(g, k) {
    return api("/v1/surveillance/prevalence?days=30&key=" + encodeURIComponent(k)).then(function (b) {
      if (g === gen) { data.prev = { key: k, days: b.days || [] }; drawChart(); }
    });
  }

  function show() {
    var g = ++gen;
    data = {};
    clearMessage();
    $("login").hidden = true;
    $("logout").hidden = false;
    SECTIONS.forEach(function (id) { $(id).hidden = false; });
    [loadAlerts(g), loadReview(g), loadCCM(g), plot(g, $("prev-key").value)].forEach(function (p) { p.catch(handle(g)); });
  }

  function logout() {
    gen++;
    key = "";
    data = {};
    sessionStorage.removeItem(KEY);
    $("key").value = "";
    SECTIONS.forEach(function (id) { $(id).hidden = true; });
    drawAlerts(); drawReview(); drawCCM(); drawChart();
    $("logout").hidden = true;
    $("login").hidden = false;
    $("key").focus();
  }

  function applyLang() {
    document.documentElement.lang = lang;
    $("lang").value = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (e) { e.textContent = T()[e.getAttribute("data-i18n")]; });
    document.querySelectorAll("[data-i18n-aria]").forEach(function (e) { e.setAttribute("aria-label", T()[e.getAttribute("data-i18n-aria")]); });
    drawService();
    drawAlerts(); drawReview(); drawCCM(); drawChart();
    if (shownErr) { showError(shownErr); }
  }

  $("lang").addEventListener("change", function () {
    if (TEXT[$("lang").value]) { lang = $("lang").value; localStorage.setItem("hg-lang", lang); applyLang(); }
  });
  applyLang();

  fetch("/healthz").then(function (r) { return r.json(); }).then(function (b) { health = b; drawService(); },
    function () { health = false; drawService(); });
  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    key = $("key").value.trim();
    $("key").value = "";
    if (!key) { return; }
    sessionStorage.setItem(KEY, key);
    show();
  });
  $("logout").addEventListener("click", function () { clearMessage(); logout(); });
  $("prev-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var g = gen;
    plot(g, $("prev-key").value.trim()).then(function () { if (g === gen) { clearMessage(); } }, handle(g));
  });
  if (key) { show(); }
})();
