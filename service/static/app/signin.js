// @ts-check
// Sign in with a one-time link sent by email; the link carries its token in the fragment
// (never sent to a server log), and this page exchanges it for a session cookie.

import { api, ApiError, setCsrf } from "./api.js";
import { ctx } from "./main.js";
import { el, errorSummary, notice, confirmDialog } from "./ui.js";

/** @param {HTMLElement} root */
export async function signin(root) {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) {
    history.replaceState({}, "", "/signin");  // the token is single-use: drop it from the address
    const now = await api("GET", "/api/auth/session");
    if (now.signed_in) {
      // A link from anywhere must not silently make this browser someone else.
      const who = now.me.name || now.me.email || "someone";
      const ok = await confirmDialog({ title: "Sign in as someone else?",
        body: [`You are signed in as ${who}. This link signs you in as the person it was sent to instead.`],
        confirm: "Sign in with this link" });
      if (!ok.ok) { ctx.go("/"); return; }
    }
    try {
      const me = await api("POST", "/api/auth/session", { token });
      ctx.me = me; setCsrf(me.csrf ?? null); ctx.program = me.program;
      ctx.go("/");
      return;
    } catch (e) {
      form(root, e instanceof ApiError ? e.message : String(e));
      return;
    }
  }
  if (ctx.me) { ctx.go("/"); return; }
  form(root, null);
  if (new URLSearchParams(location.search).get("ended")) {
    notice(/** @type {HTMLElement} */ (root.querySelector(".messages")), "info", "Your sign-in has ended", "Sign in again to go on.");
  }
}

/** @param {HTMLElement} root @param {string|null} problem */
function form(root, problem) {
  const messages = el("div", { class: "messages" });
  const email = /** @type {HTMLInputElement} */ (el("input", { id: "email", type: "email", name: "email",
    autocomplete: "email", required: true, spellcheck: "false" }));
  const f = el("form", { class: "card narrow", novalidate: true, onsubmit: async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    if (!email.value.trim()) { errorSummary(messages, [{ field: "email", message: "Enter your email address" }], { email: "email" }); return; }
    try {
      const r = await api("POST", "/api/auth/link", { email: email.value.trim() });
      notice(messages, "success", "Check your email",
        `${r.detail} It works once, for a short while. You can close this page.`);
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) errorSummary(messages, e.errors, { email: "email" });
      else notice(messages, "error", "The link could not be sent", e instanceof Error ? e.message : String(e));
    }
  } },
  el("label", { for: "email" }, "Email address"),
  el("p", { class: "hint", id: "email-hint" }, "The address your program knows you by. We email you a link that signs you in."),
  email,
  el("button", { type: "submit", class: "button primary" }, "Email me a sign-in link"));
  email.setAttribute("aria-describedby", "email-hint");
  root.replaceChildren(el("h1", {}, "Sign in to slotwise"), messages, f);
  if (problem) notice(messages, "error", "That sign-in link did not work", problem, "Ask for a new one below.");
  else email.focus();
}
