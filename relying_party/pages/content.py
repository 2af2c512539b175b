"""The fixed texts of "Mes informations pratiques": édito, FAQ and the three tutorials of the seed."""

from __future__ import annotations

EDITO = [
    "Vous êtes invité à participer aux élections professionnelles pour la désignation des représentants du "
    "personnel dans les instances de dialogue social du ministère de l'éducation nationale et de la jeunesse, du "
    "ministère des sports, et du ministère de l'enseignement supérieur et de la recherche.",
    "Le vote a lieu exclusivement par voie électronique, sur ce portail, pendant toute la durée d'ouverture du "
    "scrutin. Chaque électrice et chaque électeur vote une fois par scrutin, depuis n'importe quel ordinateur, "
    "tablette ou téléphone connecté à internet.",
    "Pour voter, munissez-vous de votre identifiant électeur (votre adresse de messagerie académique), de votre mot "
    "de passe Élections et du code de vote figurant sur votre notice de vote.",
]

FAQ = [
    (
        "Quel est mon identifiant électeur ?",
        "Votre identifiant électeur est votre adresse de messagerie académique, de la forme prenom.nom@ac-academie.fr "
        "(par exemple prenom.nom@ac-dijon.fr).",
    ),
    (
        "Je n'ai pas reçu ma notice de vote : comment obtenir mon code de vote ?",
        "Au moment de voter, sur la page « Saisie du code de vote », suivez le lien « Cliquez ici pour obtenir un "
        "réassort de votre code de vote ». Un lien vous sera envoyé par SMS ou par courriel personnel.",
    ),
    (
        "J'ai oublié mon mot de passe Élections.",
        "Sur la page de saisie du mot de passe, suivez le lien « Besoin du réassort de votre mot de passe "
        "Élections ? ».",
    ),
    (
        "Comment savoir si mon vote a été pris en compte ?",
        "Après votre vote, un reçu s'affiche avec un code de reçu que vous pouvez conserver. Dans « Je vote », le "
        "scrutin apparaît alors avec la mention « A voté ».",
    ),
    (
        "Puis-je modifier mon vote ?",
        "Non. Comme dans un bureau de vote, un bulletin déposé dans l'urne ne peut plus être repris.",
    ),
    (
        "Mon vote est-il secret ?",
        "Oui. L'urne électronique ne contient aucune information permettant de relier un bulletin à un électeur : "
        "la liste d'émargement indique seulement qui a voté, et l'urne seulement les bulletins.",
    ),
]

TUTORIALS: dict[str, tuple[str, list[str]]] = {
    "parcours-electeur": (
        "Parcours électeur",
        [
            "Cliquez sur « Accéder au portail Élections ».",
            "Saisissez votre identifiant électeur (votre adresse de messagerie académique) et recopiez le CAPTCHA.",
            "Lors de votre première connexion, demandez votre lien d'activation : il arrive dans votre messagerie "
            "académique. Choisissez alors votre mot de passe Élections, votre question défi et votre réponse secrète.",
            "Les fois suivantes, saisissez votre mot de passe Élections.",
            "Vous arrivez sur « Bienvenue sur votre portail Élections » : consultez vos scrutins, les listes "
            "électorales et les listes de candidats.",
        ],
    ),
    "parcours-de-vote": (
        "Parcours de vote",
        [
            "Dans « Je vote », choisissez « Consulter les scrutins, les candidatures et voter ».",
            "Saisissez le code de vote figurant sur votre notice de vote, puis recopiez le CAPTCHA.",
            "Pour chaque scrutin, choisissez une liste de candidats ou le vote blanc, puis confirmez votre choix.",
            "Un reçu s'affiche : notez ou imprimez votre code de reçu.",
        ],
    ),
    "reassorts": (
        "Réassorts",
        [
            "Si vous n'avez pas reçu votre notice de vote, suivez le lien « Cliquez ici pour obtenir un réassort de "
            "votre code de vote » sur la page « Saisie du code de vote ».",
            "Répondez à votre question défi avec votre réponse secrète, saisissez votre NUMEN ou les 10 premiers "
            "caractères de votre numéro de sécurité sociale, et choisissez l'envoi par SMS ou par courriel personnel.",
            "Ouvrez le lien reçu puis cliquez sur « Générer un code » : votre nouveau code de vote s'affiche.",
            "Vous pouvez ensuite voter avec ce nouveau code ; l'ancien ne fonctionne plus.",
        ],
    ),
}
