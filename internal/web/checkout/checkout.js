// The demo merchant's checkout: ask the agent for proof, let the merchant
// backend ask Healthgate for a decision, show the decision with the SDK.
(function () {
  "use strict";
  var cfg = document.body.dataset;
  var hg = Healthgate.init({ agent: cfg.agent, lang: cfg.lang });
  var result = document.getElementById("result");
  var session = ""; // set when the healthgate:// path was taken
  var tx = {
    account: cfg.account, amount: "128.00", currency: "CNY",
    payee: "demo-shop", merchant_url: location.origin + "/"
  };

  function post(path, body) {
    return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); });
  }

  function done() {
    result.innerHTML = "";
    var p = document.createElement("p");
    p.className = "hg hg-allow";
    p.setAttribute("role", "status");
    p.textContent = hg.text("done");
    result.appendChild(p);
  }

  function show(decision) {
    if (decision.error) {
      result.textContent = decision.error.message;
      return;
    }
    hg.render(result, decision, {
      onContinue: function () {
        // Going on despite the warning means more proof, not a block.
        show(Object.assign({}, decision, { outcome: "step_up", message: null }));
      },
      onStepUp: function (code) {
        post("/pay/confirm", { decision_id: decision.decision_id, code: code }).then(function (r) {
          if (r.ok) { done(); } else { result.querySelector("input").setAttribute("aria-invalid", "true"); }
        });
      }
    });
    if (decision.outcome === "allow") { setTimeout(done, 1500); }
  }

  document.getElementById("pay").addEventListener("click", function () {
    result.textContent = hg.text("checking");
    var proof = session ? Promise.resolve({ unavailable: "app_link" }) : hg.getProof(tx);
    proof.then(function (p) {
      return post("/pay", { transaction: tx, certificate: p.certificate || "", proof: p.proof || "", agent: p.unavailable || "ok", session: session })
        .then(function (decision) {
          if (p.unavailable && !session) { decision.agentUnavailable = true; }
          show(decision);
        });
    });
  });

  document.getElementById("app-link").addEventListener("click", function (e) {
    e.preventDefault();
    post("/pay/session", {}).then(function (s) {
      session = s.session;
      document.body.setAttribute("data-session", session);
      result.textContent = hg.text("appOpened");
      location.href = hg.appLink(cfg.server, session);
    });
  });
})();
