"""``portal ceremony …`` (the operator, on the portal's database) and ``portal trustee …`` (each trustee, on their
own machine, with files only). See the docs, "Key ceremony"."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from relying_party.ceremony import files

if TYPE_CHECKING:
    from relying_party.ceremony.trustee import KdfCost
    from relying_party.cli import Context


def _context() -> Context:
    # Imported here: relying_party.cli registers these groups, so importing it at module level would be circular.
    from relying_party.cli import Context

    context = click.get_current_context().ensure_object(Context)
    context.require_schema()
    return context


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@click.group("ceremony")
def ceremony() -> None:
    """Key ceremonies: trustees, threshold, the election key (operator's side)."""


@ceremony.command("create")
@click.argument("code")
@click.option("--label", required=True, help="What the ceremony is for, e.g. « Élections professionnelles 2026 ».")
@click.option("--threshold", "-k", type=int, required=True, help="How many trustees are needed to decrypt.")
@click.option(
    "--trustee", "names", multiple=True, required=True, help="A trustee's name (repeat: the order gives 1 … n)."
)
@click.option("--scrutin", "scrutins", multiple=True, help="Scrutin whose ballots use this key (repeatable).")
def ceremony_create(code: str, label: str, threshold: int, names: tuple[str, ...], scrutins: tuple[str, ...]) -> None:
    """Create a ceremony of n trustees with threshold k."""
    from relying_party.ceremony.service import CeremonyRefused, attach, create

    ctx = _context()
    try:
        with ctx.database.transaction() as session:
            made = create(session, code=code, label=label, threshold=threshold, names=names, now=_now())
            if scrutins:
                attach(session, made, scrutins)
    except CeremonyRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"cérémonie {code} créée : {threshold} garants sur {len(names)} ; identifiant {made.uid.hex()}")


@ceremony.command("attach")
@click.argument("code")
@click.argument("scrutins", nargs=-1, required=True)
def ceremony_attach(code: str, scrutins: tuple[str, ...]) -> None:
    """Encrypt these scrutins' ballots to the ceremony's key."""
    from relying_party.ceremony.service import CeremonyRefused, attach, find

    ctx = _context()
    try:
        with ctx.database.transaction() as session:
            attach(session, find(session, code), scrutins)
    except CeremonyRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(scrutins)} scrutin(s) rattaché(s) à la cérémonie {code}")


@ceremony.command("export")
@click.argument("code")
@click.option("--trustee", "index", type=int, required=True, help="The trustee (1 … n) the file is for.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def ceremony_export(code: str, index: int, output: Path) -> None:
    """Write what trustee INDEX needs for their next step (public values and the shares sealed to them)."""
    from relying_party.ceremony.service import CeremonyRefused, export_state, find

    ctx = _context()
    try:
        with ctx.database.reader() as session:
            state = export_state(session, find(session, code), index)
    except CeremonyRefused as exc:
        raise click.ClickException(str(exc)) from None
    files.write(output, state)
    click.echo(f"état de la cérémonie {code} pour le garant n° {index} écrit dans {output}")


@ceremony.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ceremony_import(paths: tuple[Path, ...]) -> None:
    """Check and record trustees' files (round 1, 2 or 3); each file is all or nothing."""
    from relying_party.ceremony.service import CeremonyRefused, receive

    ctx = _context()
    failed = 0
    for path in paths:
        try:
            document = files.read(path, "round1", "round2", "round3")
            with ctx.database.transaction() as session:
                click.echo(receive(session, document, _now()))
        except (CeremonyRefused, files.CeremonyFileError) as exc:
            failed += 1
            click.echo(f"{path} : {exc}", err=True)
    if failed:
        raise click.ClickException(f"{failed} fichier(s) refusé(s) : rien n'a été enregistré pour eux.")


@ceremony.command("status")
@click.argument("code")
def ceremony_status(code: str) -> None:
    """Where the ceremony stands, and the digest the trustees compare."""
    from relying_party.ceremony.service import CeremonyRefused, find, status

    ctx = _context()
    try:
        with ctx.database.reader() as session:
            click.echo("\n".join(status(session, find(session, code))))
    except CeremonyRefused as exc:
        raise click.ClickException(str(exc)) from None


# --- the trustee's machine ------------------------------------------------------------------------------------------


def _passphrase(path: Path | None, *, confirm: bool) -> str:
    if path is not None:
        return path.read_text(encoding="utf-8").rstrip("\n")
    from_env = os.environ.get("PORTAL_TRUSTEE_PASSPHRASE")
    if from_env:
        return from_env
    return str(click.prompt("Phrase de passe du fichier de clé", hide_input=True, confirmation_prompt=confirm))


key_file_option = click.option(
    "--key-file", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Your private file."
)
passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the passphrase from this file (default: PORTAL_TRUSTEE_PASSPHRASE, else asked).",
)
output_option = click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
memory_option = click.option(
    "--kdf-memory", default=256, show_default=True, help="MiB of memory argon2id uses to derive the file's key."
)


@click.group("trustee")
def trustee() -> None:
    """A trustee's commands, on the trustee's own machine (no database needed)."""


def _refused(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


#: A round run with an existing key file (shares, confirm): (state, key file, passphrase, cost) -> (file, digest).
KeyFileRound = Callable[[dict[str, Any], Path, str, "KdfCost"], tuple[dict[str, Any], bytes]]


def _with_key_file(
    step: KeyFileRound, state: Path, key_file: Path, passphrase_file: Path | None, kdf_memory: int
) -> tuple[dict[str, Any], bytes]:
    """Run ``step`` on the ceremony's state with the trustee's key file; a refusal becomes the command's error."""
    from relying_party.ceremony.trustee import KdfCost, TrusteeRefused

    try:
        return step(
            files.read(state, "state"),
            key_file,
            _passphrase(passphrase_file, confirm=False),
            KdfCost(memlimit=kdf_memory << 20),
        )
    except (TrusteeRefused, files.CeremonyFileError) as exc:
        raise _refused(exc) from None


@trustee.command("keygen")
@click.argument("state", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--index", type=int, required=True, help="Your number in the ceremony (1 … n).")
@key_file_option
@passphrase_option
@output_option
@memory_option
def trustee_keygen(
    state: Path, index: int, key_file: Path, passphrase_file: Path | None, output: Path, kdf_memory: int
) -> None:
    """Round 1: create your key material (kept in --key-file) and the public file to hand to the operator."""
    from relying_party.ceremony.trustee import KdfCost, TrusteeRefused, keygen

    try:
        document = keygen(
            files.read(state, "state"),
            index,
            key_file,
            _passphrase(passphrase_file, confirm=True),
            KdfCost(memlimit=kdf_memory << 20),
        )
    except (TrusteeRefused, files.CeremonyFileError) as exc:
        raise _refused(exc) from None
    files.write(output, document)
    click.echo(f"fichier de clé privé : {key_file} (gardez-le, avec sa phrase de passe)")
    click.echo(f"publication à remettre à l'opérateur : {output}")


@trustee.command("shares")
@click.argument("state", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@key_file_option
@passphrase_option
@output_option
@memory_option
def trustee_shares(state: Path, key_file: Path, passphrase_file: Path | None, output: Path, kdf_memory: int) -> None:
    """Round 2: check every trustee's publication and seal a share for each of them."""
    from relying_party.ceremony.trustee import make_shares

    document, digest = _with_key_file(make_shares, state, key_file, passphrase_file, kdf_memory)
    files.write(output, document)
    click.echo(f"parts scellées à remettre à l'opérateur : {output}")
    click.echo(f"empreinte des publications (comparez-la avec les autres garants) : {files.fingerprint(digest)}")


@trustee.command("confirm")
@click.argument("state", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@key_file_option
@passphrase_option
@output_option
@memory_option
def trustee_confirm(state: Path, key_file: Path, passphrase_file: Path | None, output: Path, kdf_memory: int) -> None:
    """Round 3: open and check the shares sent to you, keep your share of the key, confirm."""
    from relying_party.ceremony.trustee import confirm

    document, digest = _with_key_file(confirm, state, key_file, passphrase_file, kdf_memory)
    files.write(output, document)
    click.echo(f"confirmation à remettre à l'opérateur : {output}")
    click.echo(f"empreinte des publications : {files.fingerprint(digest)}")


@trustee.command("decrypt")
@click.argument("request", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--record",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The election record (portal election record), from which the aggregate is recomputed before decrypting.",
)
@key_file_option
@passphrase_option
@output_option
def trustee_decrypt(request: Path, record: Path, key_file: Path, passphrase_file: Path | None, output: Path) -> None:
    """The tally: your partial decryption of the totals (never of a ballot), with its proofs.

    Nothing is decrypted unless the request's aggregate is the sum of the record's ballots, recomputed here.
    """
    from relying_party.ceremony.trustee import TrusteeRefused, decrypt

    try:
        with record.open("rb") as lines:
            document, summary = decrypt(
                files.read(request, "decryption-request"),
                key_file,
                _passphrase(passphrase_file, confirm=False),
                lines,
            )
    except (TrusteeRefused, files.CeremonyFileError) as exc:
        raise _refused(exc) from None
    files.write(output, document)
    click.echo(
        f"agrégat recalculé depuis le dossier : {summary.ballots} bulletin(s), {summary.emargements} émargement(s) ; "
        f"empreinte de l'urne {files.fingerprint(summary.fingerprint)} — comparez avec le tableau public et les "
        "autres garants"
    )
    click.echo(f"déchiffrement partiel à remettre à l'opérateur : {output}")
