"""Everything that can go wrong on the federated route, each with a stable code, a French message for the voter,
an HTTP status and the reason written to the audit log (FranceConnect's own habit: one table of errors).

A :class:`FederationError` names the *kind* of problem (``reason``), the protocol step where it happened
(``stage``) and a short technical ``detail`` for the audit log and the operators' logs (never a token, never a
personal datum). The page shows the kind's message and its code, which the voter can quote to the assistance.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    code: str
    title: str
    message: str
    status: int


#: The voter-facing side of each reason. The codes never change meaning (the assistance's scripts quote them).
FAULTS: dict[str, Fault] = {
    "disabled": Fault(
        "FC-00", "Service indisponible", "La connexion avec FranceConnect n'est pas proposée sur ce portail.", 404
    ),
    "unavailable": Fault(
        "FC-01",
        "FranceConnect est indisponible",
        "FranceConnect ne répond pas pour le moment. Réessayez dans quelques minutes.",
        502,
    ),
    "timeout": Fault(
        "FC-02",
        "FranceConnect ne répond pas",
        "FranceConnect a mis trop de temps à répondre et la connexion a été interrompue. "
        "Réessayez dans quelques minutes.",
        504,
    ),
    "provider_error": Fault(
        "FC-03",
        "Erreur de FranceConnect",
        "FranceConnect a rencontré une erreur et n'a pas pu confirmer votre identité. Réessayez dans quelques minutes.",
        502,
    ),
    "cancelled": Fault(
        "FC-04",
        "Connexion interrompue",
        "Vous avez interrompu la connexion avec FranceConnect : aucune information n'a été transmise.",
        400,
    ),
    "expired": Fault(
        "FC-05",
        "Demande expirée",
        "Votre demande de connexion avec FranceConnect a expiré, a déjà été utilisée ou a été ouverte dans un "
        "autre navigateur. Recommencez depuis le début.",
        400,
    ),
    "invalid_response": Fault(
        "FC-06",
        "Réponse non vérifiable",
        "La réponse de FranceConnect n'a pas pu être vérifiée : par sécurité, elle a été refusée. "
        "Recommencez depuis le début.",
        502,
    ),
    "incomplete_identity": Fault(
        "FC-07",
        "Identité incomplète",
        "FranceConnect n'a pas transmis toute votre identité (nom de naissance, prénoms, date et lieu de "
        "naissance) : nous ne pouvons pas vous reconnaître par ce moyen.",
        502,
    ),
    "no_match": Fault(
        "FC-08",
        "Électeur non reconnu",
        "L'identité transmise par FranceConnect (nom de naissance, prénoms, date et lieu de naissance) ne "
        "correspond à aucun électeur de ce scrutin. Vérifiez auprès de votre service de gestion que votre "
        "état civil est à jour.",
        403,
    ),
    "ambiguous_match": Fault(
        "FC-09",
        "Identification impossible",
        "L'identité transmise par FranceConnect correspond à plusieurs comptes d'électeur : par sécurité, aucun "
        "n'est utilisé. Contactez l'assistance pour faire corriger la situation.",
        403,
    ),
}


class FederationError(Exception):
    """A failure of the federated route. ``reason`` is a key of :data:`FAULTS`."""

    def __init__(self, reason: str, stage: str, detail: str = "") -> None:
        if reason not in FAULTS:
            raise ValueError(f"unknown federation failure reason {reason!r}")
        super().__init__(f"{stage}: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.stage = stage
        self.detail = detail

    @property
    def fault(self) -> Fault:
        return FAULTS[self.reason]
