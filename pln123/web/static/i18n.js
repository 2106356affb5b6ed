// The pages' one message catalogue (GET /i18n/<language>): Indonesian unless the user
// switched to English (kept in this browser). Elements name their text by key:
// data-i18n (text), data-i18n-title, data-i18n-placeholder; scripts call t(key, {vars}).
"use strict";

const I18N = { lang: "id", messages: {} };

function t(key, vars) {
  let text = Object.prototype.hasOwnProperty.call(I18N.messages, key) ? I18N.messages[key] : key;
  for (const [name, value] of Object.entries(vars || {})) text = text.split("{" + name + "}").join(String(value));
  return text;
}

function translatePage(root) {
  const scope = root || document;
  for (const node of scope.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of scope.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  for (const node of scope.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const button of scope.querySelectorAll("[data-lang-switch]")) {
    button.textContent = t("common.other_language");
    button.onclick = () => {
      try { window.localStorage.setItem("pln123.lang", I18N.lang === "en" ? "id" : "en"); } catch (e) { /* private mode */ }
      window.location.reload();
    };
  }
}

async function loadMessages() {
  let saved = "id";
  try { saved = window.localStorage.getItem("pln123.lang") || "id"; } catch (e) { /* private mode */ }
  I18N.lang = saved === "en" ? "en" : "id";
  document.documentElement.lang = I18N.lang;
  try {
    const reply = await fetch("/i18n/" + I18N.lang, { credentials: "same-origin" });
    I18N.messages = (await reply.json()).messages || {};
  } catch (e) { I18N.messages = {}; }
  translatePage();
}

const i18nReady = loadMessages();
