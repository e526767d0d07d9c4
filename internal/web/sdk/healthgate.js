/*
 * Healthgate checkout SDK. A merchant page includes it from the health
 * service (<script src="https://health.example/sdk/healthgate.js">) to
 *   1. ask the Healthgate agent on this computer (loopback) for a health
 *      certificate and a proof of possession over the transaction, and
 *   2. show the person paying what the platform decided: go ahead, a
 *      warning with how to fix it, an extra check (step-up), or a refusal
 *      with why and what to do.
 * No third-party code, no network calls but the agent and the page's own.
 */
(function (global) {
  "use strict";

  var TEXT = {
    "zh-CN": {
      checking: "正在检查这台设备的安全状况…",
      allowTitle: "设备安全检查通过",
      allowBody: "这台设备的防护正常，可以放心付款。",
      warnTitle: "您的设备存在安全风险",
      warnContinue: "我已了解风险，继续付款",
      warnFix: "先去修复",
      stepTitle: "需要再验证一次",
      stepBody: "为了保护您的资金，请输入我们发到您手机上的短信验证码。",
      stepNoAgent: "我们没能检查这台设备的安全状况（Healthgate 安全助手没有响应或未获允许），所以需要多一步验证。如果浏览器询问是否允许本网页访问本地网络上的设备，请选择允许后重新付款。",
      stepCode: "短信验证码",
      stepConfirm: "确认付款",
      stepWrong: "验证码不对。请看一下短信，重新输入。",
      denyTitle: "为了您的资金安全，本次付款已暂停",
      denyBody: "这台设备现在付款不安全。请按下面的步骤处理后再付款：",
      fixSteps: "修复方法",
      openApp: "用 Healthgate 安全助手检查",
      appOpened: "已请 Healthgate 安全助手检查这台设备。检查完成后，请点击“立即付款”。",
      done: "付款成功",
      payFailed: "付款没有完成：暂时连不上商家。请检查网络连接，然后再试一次。"
    },
    en: {
      checking: "Checking this device's safety…",
      allowTitle: "Your device passed the safety check",
      allowBody: "This device is protected. You can pay safely.",
      warnTitle: "Your device is at risk",
      warnContinue: "I understand the risk, continue",
      warnFix: "Fix it first",
      stepTitle: "One more check",
      stepBody: "To protect your money, enter the code we sent to your phone by SMS.",
      stepNoAgent: "We could not check this device's safety (the Healthgate app did not answer or was not allowed to), so we need one more check. If your browser asked whether this page may reach devices on your local network, allow it and pay again.",
      stepCode: "SMS code",
      stepConfirm: "Confirm payment",
      stepWrong: "That code is not right. Check the SMS and enter it again.",
      denyTitle: "This payment was stopped to protect your money",
      denyBody: "It is not safe to pay from this device right now. Do this first, then pay again:",
      fixSteps: "How to fix it",
      openApp: "Check with the Healthgate app",
      appOpened: "The Healthgate app was asked to check this device. When it is done, click Pay now.",
      done: "Payment complete",
      payFailed: "The payment did not go through: we could not reach the shop. Check your internet connection and try again."
    }
  };

  var config = { agent: "http://127.0.0.1:17853", lang: "zh-CN", timeoutMs: 3000 };

  // init sets options; one left undefined or null keeps its default.
  function init(opts) {
    for (var k in opts) {
      if (Object.prototype.hasOwnProperty.call(opts, k) && opts[k] != null) { config[k] = opts[k]; }
    }
    config.lang = language(config.lang);
    return api;
  }

  // language maps a language tag (BCP 47, any case: "zh", "zh-cn",
  // "zh-Hans-CN", "en-GB") to one of ours; anything else reads English.
  function language(tag) {
    var l = String(tag).toLowerCase();
    return l === "zh" || l.indexOf("zh-") === 0 ? "zh-CN" : "en";
  }

  function t(key) { return TEXT[config.lang][key]; }

  // askAgent posts body to the agent at path and resolves to read(answer),
  // or to {unavailable: reason} when the agent is missing or refused by the
  // browser (Local Network Access permission denied: agent_unreachable),
  // refuses (agent_refused_<status>), answers something other than what
  // read accepts (agent_bad_answer) or has not answered in full within
  // config.timeoutMs (permission prompt still pending: agent_timeout). It
  // never rejects.
  function askAgent(path, body, read) {
    return new Promise(function (resolve) {
      var ctrl = typeof AbortController === "function" ? new AbortController() : null;
      var settled = false;
      function finish(v) {
        if (!settled) { settled = true; clearTimeout(timer); resolve(v); }
      }
      var timer = setTimeout(function () {
        finish({ unavailable: "agent_timeout" });
        if (ctrl) { ctrl.abort(); }
      }, config.timeoutMs);
      fetch(config.agent + path, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: ctrl ? ctrl.signal : undefined
      }).then(function (resp) {
        if (!resp.ok) { finish({ unavailable: "agent_refused_" + resp.status }); return; }
        return resp.json().then(function (answer) {
          finish((answer && typeof answer === "object" && read(answer)) || { unavailable: "agent_bad_answer" });
        }, function () { finish({ unavailable: "agent_bad_answer" }); });
      }).then(null, function () { finish({ unavailable: "agent_unreachable" }); });
    });
  }

  // getProof asks the local agent for a certificate and a proof over the
  // transaction. It never throws: when the agent is missing, refused by
  // the browser (Local Network Access permission denied) or too slow
  // (permission prompt still pending), it resolves to {unavailable: reason}
  // and the platform falls back to step-up.
  //
  // Only the five fields the proof covers go to the agent, which refuses
  // any other (a page may pass the whole transaction it sends to its
  // platform, with event, channel and so on).
  function getProof(transaction) {
    var tx = {}, fields = ["account", "amount", "currency", "payee", "merchant_url"];
    fields.forEach(function (f) { if (transaction && transaction[f] != null) { tx[f] = transaction[f]; } });
    return askAgent("/v1/proof", { transaction: tx }, function (a) {
      if (typeof a.certificate !== "string" || !a.certificate) { return null; }
      return { certificate: a.certificate, proof: typeof a.proof === "string" ? a.proof : "", tier: a.tier };
    });
  }

  // checkURL asks the agent whether a URL is on the protective feed
  // (phishing, fake merchants). The agent looks it up by hash prefix; the
  // URL itself never leaves the computer. Resolves to {listed} or
  // {unavailable: reason}.
  function checkURL(url) {
    return askAgent("/v1/check-url", { url: url }, function (a) {
      return typeof a.listed === "boolean" ? { listed: a.listed } : null;
    });
  }

  // appLink returns the healthgate:// link that asks the installed agent to
  // report for a one-time checkout session: the path that needs no
  // loopback call from the page.
  function appLink(server, session) {
    return "healthgate://report?server=" + encodeURIComponent(server) + "&session=" + encodeURIComponent(session);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    }
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function pick(v) {
    if (v == null) { return ""; }
    if (typeof v === "string") { return v; }
    return v[config.lang] || v.en || "";
  }

  function remediationList(decision) {
    var items = decision.remediation || [];
    if (!items.length) { return null; }
    return el("ol", { "class": "hg-steps", "aria-label": t("fixSteps") }, items.map(function (r) {
      var steps = r.steps ? (r.steps[config.lang] || r.steps.en || []) : [];
      if (typeof steps === "string") { steps = [steps]; }
      return el("li", {}, [
        el("strong", { text: pick(r.title) }),
        steps.length === 1 ? el("p", { text: steps[0] }) :
          el("ul", {}, steps.map(function (s) { return el("li", { text: s }); }))
      ]);
    }));
  }

  // render shows a decision in container. handlers: onContinue (the person
  // goes on despite a warning), onStepUp(code) (they entered the SMS code),
  // onOpenApp (optional: when the agent could not be reached, a button
  // offers the healthgate:// path and calls it).
  function render(container, decision, handlers) {
    handlers = handlers || {};
    container.innerHTML = "";
    container.setAttribute("lang", config.lang);
    var outcome = decision.outcome, box;
    var msg = pick(decision.message);
    if (outcome === "allow") {
      box = el("section", { "class": "hg hg-allow", role: "status", "aria-live": "polite" }, [
        el("h2", { text: t("allowTitle") }), el("p", { text: msg || t("allowBody") })]);
    } else if (outcome === "warn") {
      var go = el("button", { type: "button", "class": "hg-continue", text: t("warnContinue") });
      go.addEventListener("click", function () { if (handlers.onContinue) { handlers.onContinue(); } });
      box = el("section", { "class": "hg hg-warn", role: "alertdialog", "aria-labelledby": "hg-title", "aria-describedby": "hg-body" }, [
        el("h2", { id: "hg-title", text: t("warnTitle") }), el("p", { id: "hg-body", text: msg }),
        el("h3", { text: t("fixSteps") }), remediationList(decision), go]);
    } else if (outcome === "deny") {
      box = el("section", { "class": "hg hg-deny", role: "alert" }, [
        el("h2", { text: t("denyTitle") }), el("p", { text: msg }), el("p", { text: t("denyBody") }), remediationList(decision)]);
    } else { // step_up, and anything unknown: ask for more proof, never wave through
      var input = el("input", { id: "hg-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" });
      var ok = el("button", { type: "button", "class": "hg-confirm", text: t("stepConfirm") });
      ok.addEventListener("click", function () { if (handlers.onStepUp) { handlers.onStepUp(input.value); } });
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); ok.click(); }
      });
      box = el("section", { "class": "hg hg-stepup", role: "alertdialog", "aria-labelledby": "hg-title" }, [
        el("h2", { id: "hg-title", text: t("stepTitle") }),
        decision.agentUnavailable ? el("p", { "class": "hg-why", text: t("stepNoAgent") }) : null,
        decision.agentUnavailable && handlers.onOpenApp ? openAppButton(handlers.onOpenApp) : null,
        msg ? el("p", { text: msg }) : null,
        el("p", { text: t("stepBody") }), el("label", { "for": "hg-code", text: t("stepCode") }), input, ok]);
    }
    container.appendChild(box);
    // A warning takes focus itself, so it is read before anything is
    // pressed: its first button goes on despite the risk.
    var focus = outcome === "warn" ? box : box.querySelector("button, input") || box;
    if (!focus.hasAttribute("tabindex") && focus === box) { box.setAttribute("tabindex", "-1"); }
    focus.focus();
    return box;
  }

  function openAppButton(onOpenApp) {
    var b = el("button", { type: "button", "class": "hg-open-app", text: t("openApp") });
    b.addEventListener("click", function () { onOpenApp(); });
    return b;
  }

  var api = { init: init, getProof: getProof, checkURL: checkURL, appLink: appLink, render: render, text: t };
  global.Healthgate = api;
})(window);
