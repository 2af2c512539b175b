"""The paper notice: one A4 page per voter, drawn with reportlab.

What every page shares (headings, instructions, help) is drawn once per file as a form XObject and placed on each
page, so a page adds only the voter's name, académie, identifier and code: about 600 bytes, and about 0.4 ms.

reportlab keeps a document in memory until ``save()`` (a few kilobytes a page), so a file is a *volume* of at most
``pages_per_file`` pages: memory stays bounded however large an académie is (Versailles and Créteil have about a
hundred thousand staff), and the print shop gets files of a size it can check and resend.

The text uses the PDF standard fonts (Helvetica, Courier): every printer has them, and their encoding covers
French. A name with a character outside it (Nguyễn) is printed without its accent; the CSV keeps it exactly.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import BinaryIO

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from idp.votecode.codes import ALPHABET

TITLE = "Élections professionnelles — Votre notice de vote"
_FORM = "notice"
_WIDTH, _HEIGHT = A4
_MARGIN = 20 * mm
_TEXT_WIDTH = _WIDTH - 2 * _MARGIN
_BODY = ("Helvetica", 10.5)
_CODE_FONT = ("Courier-Bold", 30)
#: Vertical positions (points from the bottom) of the variable fields and of the code box.
_Y_NAME, _Y_ACADEMIE, _Y_IDENTIFIER = 690, 672, 654
_Y_CODE_BOX, _CODE_BOX_HEIGHT = 535, 70


#: Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSABLE = str.maketrans({"Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "Ħ": "H", "ħ": "h", "ı": "i"})
#: French typography: a no-break space before ``: ; ? ! »`` and after ``«`` (so a line never starts with ``:``).
_BEFORE = re.compile(r" ([:;?!»])")
_AFTER = re.compile(r"« ")


def pdf_text(value: str) -> str:
    """``value`` as the standard fonts can print it (Windows-1252): other accented letters lose their accent."""
    try:
        value.encode("cp1252")
        return value
    except UnicodeEncodeError:
        pass
    out = []
    for ch in value:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", ch.translate(_UNDECOMPOSABLE))
            base = "".join(c for c in decomposed if not unicodedata.combining(c))
            out.append(base if base.isascii() and base else "?")
    return "".join(out)


def wrap(text: str, font: tuple[str, float], width: float) -> list[str]:
    """Lines of ``text`` no wider than ``width``, broken at ordinary spaces only.

    reportlab's ``simpleSplit`` breaks at any white space, no-break spaces included.
    """
    text = _AFTER.sub("«\u00a0", _BEFORE.sub("\u00a0\\1", text))
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and stringWidth(candidate, font[0], font[1]) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _paragraph(
    canvas: Canvas,
    text: str,
    x: float,
    y: float,
    *,
    font: tuple[str, float] = _BODY,
    width: float = _TEXT_WIDTH,
    leading: float = 14,
) -> float:
    """Draw wrapped ``text`` from ``y`` down; return the ``y`` below it."""
    canvas.setFont(*font)
    for line in wrap(text, font, width):
        canvas.drawString(x, y, line)
        y -= leading
    return y


def _static_page(canvas: Canvas, portal_url: str, issued_on: dt.date) -> None:
    """Everything but the voter's fields, drawn once per volume."""
    x = _MARGIN
    canvas.setFont("Helvetica-Bold", 9)
    canvas.drawString(x, _HEIGHT - _MARGIN, "RÉPUBLIQUE FRANÇAISE")
    canvas.setFont("Helvetica", 9)
    canvas.drawString(x, _HEIGHT - _MARGIN - 12, "Ministère de l'Éducation nationale")
    canvas.drawRightString(_WIDTH - _MARGIN, _HEIGHT - _MARGIN, "CONFIDENTIEL")
    canvas.setFont("Helvetica-Bold", 17)
    canvas.drawString(x, 740, TITLE)
    canvas.setFont("Helvetica", 10.5)
    for label, label_y in (
        ("Électrice, électeur :", _Y_NAME),
        ("Académie :", _Y_ACADEMIE),
        ("Identifiant électeur :", _Y_IDENTIFIER),
    ):
        canvas.drawString(x, label_y, label)
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(x, _Y_CODE_BOX + _CODE_BOX_HEIGHT + 10, "Votre code de vote")
    canvas.setLineWidth(1.5)
    canvas.rect(x, _Y_CODE_BOX, _TEXT_WIDTH, _CODE_BOX_HEIGHT)
    y = _paragraph(
        canvas,
        "Le code ne contient jamais les caractères 0 (zéro), O, 1 (un), I ni L. Majuscules ou "
        "minuscules, avec ou sans tirets : il est accepté tel que vous le recopiez.",
        x,
        _Y_CODE_BOX - 16,
        font=("Helvetica-Oblique", 9.5),
        leading=12,
    )
    y -= 14
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawString(x, y, "Comment voter")
    y -= 20
    steps = (
        f"Rendez-vous sur le portail Élections : {portal_url} et cliquez sur « Accéder au portail Élections ».",
        "Saisissez votre identifiant électeur (ci-dessus) et recopiez le CAPTCHA affiché à l'écran.",
        "Saisissez votre mot de passe Élections. Première connexion : demandez votre lien d'activation, reçu sur "
        "votre messagerie académique, puis choisissez votre mot de passe, une question défi et sa réponse.",
        "Cliquez sur « Je vote » : à l'écran « Saisie du code de vote », recopiez le code de vote de cette notice "
        "et le CAPTCHA.",
        "Choisissez une liste de candidats (ou votez blanc), confirmez votre vote et conservez l'accusé de "
        "réception qui s'affiche.",
    )
    for number, step in enumerate(steps, start=1):
        canvas.setFont(*_BODY)
        canvas.drawString(x, y, f"{number}.")
        y = _paragraph(canvas, step, x + 16, y, width=_TEXT_WIDTH - 16) - 6
    y -= 10
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawString(x, y, "Besoin d'aide ?")
    y -= 20
    helps = (
        "Code de vote perdu ou notice non reçue : à l'écran « Saisie du code de vote », cliquez sur « Cliquez ici "
        "pour obtenir un réassort de votre code de vote ». Un nouveau code vous est donné en quelques minutes.",
        "Mot de passe Élections oublié : lien « Besoin du réassort de votre mot de passe Élections ? » à l'écran "
        "du mot de passe.",
        "Autres questions : rubrique « Mes informations pratiques » du portail (FAQ, tutoriels, formulaire de "
        "demande d'assistance), ou le service de gestion du personnel de votre académie.",
    )
    for text in helps:
        y = _paragraph(canvas, "– " + text, x, y) - 6
    y -= 8
    _paragraph(
        canvas,
        "Ce code est personnel et confidentiel : conservez cette notice en lieu sûr et ne "
        "communiquez votre code à personne. Aucun service ne vous le demandera par téléphone ni par "
        "courriel. Seul le dernier code de vote reçu est valable : un nouveau code remplace le précédent.",
        x,
        y,
        font=("Helvetica-Bold", 10),
        leading=13,
    )
    canvas.setFont("Helvetica", 8)
    canvas.drawString(x, _MARGIN - 6, f"Notice émise le {issued_on:%d/%m/%Y}.")


class NoticeVolume:
    """One PDF file of notices, written to ``stream`` when closed."""

    def __init__(self, stream: BinaryIO, portal_url: str, issued_on: dt.date) -> None:
        self.pages = 0
        self._canvas = Canvas(stream, pagesize=A4, pageCompression=1, invariant=0)
        self._canvas.setTitle(TITLE)
        self._canvas.setAuthor("Portail Élections")
        self._canvas.beginForm(_FORM)
        _static_page(self._canvas, pdf_text(portal_url), issued_on)
        self._canvas.endForm()

    def add(self, *, name: str, academie: str, identifier: str, code: str) -> int:
        """Draw one voter's page; return its page number in this volume (1-based)."""
        if any(ch not in ALPHABET and ch != "-" for ch in code):
            raise ValueError("a printed code holds only alphabet characters and dashes")
        c = self._canvas
        c.doForm(_FORM)
        x = _MARGIN + 120
        c.setFont("Helvetica-Bold", 11)
        c.drawString(x, _Y_NAME, pdf_text(name))
        c.setFont("Helvetica", 11)
        c.drawString(x, _Y_ACADEMIE, pdf_text(academie.title() if academie.islower() else academie))
        c.drawString(x, _Y_IDENTIFIER, pdf_text(identifier))
        c.setFont(*_CODE_FONT)
        c.drawCentredString(_WIDTH / 2, _Y_CODE_BOX + (_CODE_BOX_HEIGHT - _CODE_FONT[1]) / 2 + 6, code)
        c.showPage()
        self.pages += 1
        return self.pages

    def close(self) -> None:
        self._canvas.save()


#: Makes the stream of volume number ``n`` (1-based) of an académie.
StreamFactory = Callable[[int], BinaryIO]
