// The demo merchant's checkout: ask the agent for proof, let the merchant
// backend ask Healthgate for a decision, show the decision with the SDK.
(function () {
  "use strict";
  var cfg = document.body.dataset;
  var hg = Healthgate.init({ agent: cfg.agent, lang: cfg.lang });
  var result = document.getElementById("result");
  var pay = document.getElementById("pay");
  var session = ""; // set when the healthgate:// path was taken
  var tx = {
    account: cfg.account, amount: "128.00", currency: "CNY",
    payee: "demo-shop", merchant_url: location.origin + "/"
  };

  // post resolves to the JSON answer of the shop's backend; it rejects when
  // the backend cannot be reached or does not answer JSON.
  function post(path, body) {
    return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); });
  }

  // failed says in words that the shop could not be reached, instead of
  // leaving "Checking…" on the page for ever.
  function failed() {
    say("hg hg-deny", "alert", hg.text("payFailed"));
    pay.disabled = false;
  }

  // say replaces the result with one message.
  function say(className, role, text) {
    result.innerHTML = "";
    var p = document.createElement("p");
    p.className = className;
    p.setAttribute("role", role);
    p.textContent = text;
    result.appendChild(p);
  }

  // wrongCode tells why the step-up did not go through, in words tied to
  // the code field, and puts the person back in it.
  function wrongCode() {
    var input = result.querySelector("#hg-code");
    if (!input) { return; }
    var why = document.getElementById("hg-code-error");
    if (!why) {
      why = document.createElement("p");
      why.id = "hg-code-error";
      why.className = "hg-error";
      why.setAttribute("role", "alert");
      input.parentNode.insertBefore(why, input.nextSibling);
    }
    why.textContent = hg.text("stepWrong");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "hg-code-error");
    input.focus();
    input.select();
  }

  function done() {
    pay.disabled = true; // paid
    say("hg hg-allow", "status", hg.text("done"));
  }

  function show(decision) {
    pay.disabled = decision.outcome === "allow";
    if (decision.error) {
      result.textContent = decision.error.message;
      return;
    }
    hg.render(result, decision, {
      onContinue: function () {
        // Going on despite the warning means more proof, not a block.
        show(Object.assign({}, decision, { outcome: "step_up", message: null }));
      },
      onOpenApp: openApp,
      onStepUp: function (code) {
        post("/pay/confirm", { decision_id: decision.decision_id, code: code }).then(function (r) {
          if (r.ok) { done(); } else { wrongCode(); }
        }).then(null, failed);
      }
    });
    if (decision.outcome === "allow") { setTimeout(done, 1500); }
  }

  pay.addEventListener("click", function () {
    if (pay.disabled) { return; }
    pay.disabled = true; // one payment at a time
    result.textContent = hg.text("checking");
    var proof = session ? Promise.resolve({ unavailable: "app_link" }) : hg.getProof(tx);
    proof.then(function (p) {
      return post("/pay", { transaction: tx, certificate: p.certificate || "", proof: p.proof || "", agent: p.unavailable || "ok", session: session })
        .then(function (decision) {
          if (p.unavailable && !session) { decision.agentUnavailable = true; }
          show(decision);
        });
    }).then(null, failed);
  });

  // openApp takes the healthgate:// path: a one-time session the installed
  // agent reports for, which the next payment names instead of a proof.
  function openApp() {
    post("/pay/session", {}).then(function (s) {
      if (!s || typeof s.session !== "string" || !s.session) { failed(); return; }
      session = s.session;
      document.body.setAttribute("data-session", session);
      result.textContent = hg.text("appOpened");
      location.href = hg.appLink(cfg.server, session);
    }).then(null, failed);
  }
  document.getElementById("app-link").addEventListener("click", function (e) {
    e.preventDefault();
    openApp();
  });
})();
