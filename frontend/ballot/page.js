// The ballot page (templates/portal/vote_ballot.html): the voter chooses, confirms, and the choice is encrypted
// here before anything is sent. The radio buttons belong to the form #ballot-choice, which is never submitted; the
// form #ballot-cast sends only the CSRF token and the encrypted ballot. Without this script the page keeps its
// explanation (#ballot-nojs) and both forms stay hidden.
import { encryptBallot } from "./crypto.js";

function supported() {
  return typeof BigInt === "function" && typeof crypto !== "undefined" && typeof crypto.getRandomValues === "function";
}

function start() {
  const choice = document.getElementById("ballot-choice");
  const cast = document.getElementById("ballot-cast");
  if (!choice || !cast || !supported()) return;
  const error = document.getElementById("ballot-error");
  const summary = document.getElementById("ballot-error-summary");
  const fieldset = document.getElementById("ballot-fieldset");
  const chosen = document.getElementById("ballot-chosen");
  const status = document.getElementById("ballot-status");
  const submit = document.getElementById("ballot-submit");
  const title = document.getElementById("ballot-title");
  const pageTitle = document.title;
  const field = cast.querySelector("input[name=ballot]");
  document.getElementById("ballot-nojs").hidden = true;
  choice.hidden = false;

  const selected = () => choice.querySelector("input[name=choix]:checked");

  choice.addEventListener("submit", (event) => {
    event.preventDefault();
    const radio = selected();
    if (!radio) {
      error.hidden = false;
      summary.hidden = false;
      fieldset.classList.add("fr-fieldset--error");
      summary.focus();
      return;
    }
    error.hidden = true;
    summary.hidden = true;
    fieldset.classList.remove("fr-fieldset--error");
    chosen.textContent = document.querySelector(`label[for="${radio.id}"]`).textContent;
    choice.hidden = true;
    cast.hidden = false;
    title.textContent = "Confirmation de votre vote";
    document.title = pageTitle.replace("Bulletin de vote", "Confirmation de votre vote");
    title.focus();
  });

  document.getElementById("ballot-back").addEventListener("click", () => {
    cast.hidden = true;
    choice.hidden = false;
    title.textContent = "Bulletin de vote";
    document.title = pageTitle;
    (selected() || choice.querySelector("input[name=choix]")).focus();
  });

  let sending = false;
  cast.addEventListener("submit", (event) => {
    event.preventDefault();
    const radio = selected();
    if (sending || !radio) return;
    sending = true;
    submit.disabled = true;
    status.textContent = "Chiffrement de votre bulletin en cours…";
    // Let the status be painted before the computation (a fraction of a second) takes the main thread.
    setTimeout(() => {
      try {
        const ballot = encryptBallot({
          key: cast.dataset.key,
          election: cast.dataset.election,
          nonce: cast.dataset.nonce,
          options: Number(cast.dataset.options),
          choice: Number(radio.value),
          format: Number(cast.dataset.format),
        });
        field.value = JSON.stringify(ballot);
        status.textContent = "Envoi de votre bulletin chiffré…";
        cast.submit();
      } catch (failure) {
        sending = false;
        submit.disabled = false;
        status.textContent =
          "Votre bulletin n'a pas pu être chiffré dans ce navigateur : aucun bulletin n'a été déposé. " +
          "Réessayez, ou utilisez un autre navigateur.";
      }
    }, 30);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
