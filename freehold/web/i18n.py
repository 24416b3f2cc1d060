"""English and French for the web app: a catalogue keyed by the English text.

The language is the ``lang`` cookie when set (the footer's links set it through
``/language/<code>``), else the best match in ``Accept-Language``, else English. A string with no
French entry shows in English, and a test checks that every string the templates use has one.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["FRENCH", "LANGUAGES", "choose", "counter", "translator"]

LANGUAGES = ("en", "fr")

FRENCH: dict[str, str] = {
    "Home": "Accueil",
    "Conversations": "Conversations",
    "Search": "Rechercher",
    "Import": "Importer",
    "Search your archive": "Rechercher dans l'archive",
    "Your archive": "Votre archive",
    "conversations": "conversations",
    "messages": "messages",
    "attachments": "pièces jointes",
    "imports": "imports",
    "Sources": "Sources",
    "Recent conversations": "Conversations récentes",
    "No conversations yet.": "Aucune conversation pour l'instant.",
    "Import an export": "Importer un export",
    "Import report": "Rapport d'import",
    "File": "Fichier",
    "Kind": "Type",
    "Started": "Commencé",
    "Status": "État",
    "Report": "Rapport",
    "read": "lus",
    "new": "nouveaux",
    "updated": "mis à jour",
    "unchanged": "inchangés",
    "skipped": "ignorés",
    "re-read by a newer importer": "relues par un importeur plus récent",
    "of them stored with no importer version": "dont stockées sans version d'importeur",
    "attachment links": "liens vers des pièces jointes",
    "missing": "manquantes",
    "with their file": "avec leur fichier",
    "missing their file": "sans leur fichier",
    "new attachment files": "nouveaux fichiers joints",
    "context records": "enregistrements de contexte",
    "content types": "types de contenu",
    "not understood (kept raw)": "non compris (gardé brut)",
    "gone upstream": "disparues chez la source",
    "Problems": "Problèmes",
    "Not understood": "Non compris",
    "Source": "Source",
    "Model": "Modèle",
    "Role": "Rôle",
    "From": "Du",
    "To": "Au",
    "Any": "Tous",
    "Has branches": "Avec branches",
    "Starred": "Favoris",
    "Gone upstream": "Disparues chez la source",
    "back upstream (flag cleared)": "revenues chez la source (signalement levé)",
    "Filter": "Filtrer",
    "Previous": "Précédent",
    "Next": "Suivant",
    "Page": "Page",
    "of": "sur",
    "Untitled": "Sans titre",
    "Updated": "Mise à jour",
    "branches": "branches",
    "No conversation matches these filters.": "Aucune conversation ne correspond à ces filtres.",
    "results": "résultats",
    "Showing the newest matches only.": (
        "Seules les correspondances les plus récentes sont montrées."
    ),
    "Showing the nearest matches only.": (
        "Seules les correspondances les plus proches sont montrées."
    ),
    "No results.": "Aucun résultat.",
    "Download Markdown": "Télécharger en Markdown",
    "Download JSON": "Télécharger en JSON",
    "Star": "Ajouter aux favoris",
    "Unstar": "Retirer des favoris",
    "Branch": "Branche",
    "Previous branch": "Branche précédente",
    "Next branch": "Branche suivante",
    "Custom instructions and memory": "Instructions personnalisées et mémoire",
    "This conversation is no longer in the source's latest export.": (
        "Cette conversation n'est plus dans le dernier export de la source."
    ),
    "User": "Utilisateur",
    "Assistant": "Assistant",
    "System": "Système",
    "Tool": "Outil",
    "Unknown": "Inconnu",
    "Copy": "Copier",
    "Copied": "Copié",
    "missing attachment": "pièce jointe manquante",
    "Output": "Sortie",
    "Web result": "Résultat web",
    "Thought": "Réflexion",
    "About the user": "À propos de l'utilisateur",
    "How to respond": "Comment répondre",
    "Memory": "Mémoire",
    "Custom instructions": "Instructions personnalisées",
    "Memory note": "Note de mémoire",
    "Memory snapshot": "Instantané de la mémoire",
    "Project document": "Document du projet",
    "Project instructions": "Instructions du projet",
    "System instructions": "Instructions système",
    "Instructions": "Instructions",
    "Error": "Erreur",
    "voice": "voix",
    "Content not understood": "Contenu non compris",
    "Earlier version (changed upstream, kept on import)": (
        "Version antérieure (modifiée à la source, gardée à l'import)"
    ),
    "Choose an export (zip, folder as zip, JSON file or logs.db)": (
        "Choisissez un export (zip, JSON ou logs.db)"
    ),
    "Upload and import": "Envoyer et importer",
    "Importing": "Import en cours",
    "Import finished": "Import terminé",
    "Import failed": "Échec de l'import",
    "Import finished with problems": "Import terminé avec des problèmes",
    "Another import is running; wait for it to finish.": (
        "Un autre import est en cours ; attendez qu'il se termine."
    ),
    "Nothing was uploaded.": "Aucun fichier n'a été envoyé.",
    "The thread continues in another branch": "La conversation continue dans une autre branche",
    "The thread stops here; what follows is another branch": (
        "La conversation s'arrête ici ; la suite est une autre branche"
    ),
    "This data folder is read-only: pages can be read, but an import cannot be saved here. "
    "Make the folder writable, then restart freehold serve.": (
        "Ce dossier de données est en lecture seule : les pages se lisent, mais un import ne "
        "peut pas y être enregistré. Rendez le dossier accessible en écriture, puis relancez "
        "freehold serve."
    ),
    "Nothing was uploaded. Send the export as a file from the import page's form "
    "(multipart/form-data).": (
        "Aucun fichier n'a été envoyé. Envoyez l'export comme fichier depuis le formulaire de "
        "la page d'import (multipart/form-data)."
    ),
    "The upload holds too many parts; send one file.": (
        "L'envoi contient trop de parties ; envoyez un seul fichier."
    ),
    "A form field other than the file is too large.": (
        "Un champ du formulaire autre que le fichier est trop grand."
    ),
    "Keyboard": "Clavier",
    "search": "rechercher",
    "next / previous item": "élément suivant / précédent",
    "open": "ouvrir",
    "other branch": "autre branche",
    "Not found": "Introuvable",
    "Bad request": "Requête invalide",
    "Back to the archive": "Retour à l'archive",
    "Language": "Langue",
    "hidden": "masqué",
    "Messages": "Messages",
    "Created": "Créée",
    "MB read": "Mo lus",
    "conversation": "conversation",
    "message": "message",
    "attachment": "pièce jointe",
    "Attached file:": "Fichier joint :",
    "import": "import",
    "result": "résultat",
    "branch": "branche",
    "Tools": "Outils",
    "Reasoning": "Raisonnement",
    "Reasoning summary": "Résumé du raisonnement",
    "Tool call": "Appel d'outil",
    "Tool output": "Sortie d'outil",
    "Web results": "Résultats web",
    "System message": "Message système",
    "Assistant message": "Message de l'assistant",
    "User message": "Message de l'utilisateur",
    "Message": "Message",
    # The exit plan (exits.html) and the catalogue's categories (exits.CATEGORIES)
    "Exit plan": "Plan de sortie",
    "By meaning": "Par le sens",
    "Rehearsals": "Répétitions",
    "Rehearsal": "Répétition",
    "Your own past prompts replayed on candidate models, and how far their answers drift.": (
        "Vos propres questions passées rejouées sur des modèles candidats, et l'écart de "
        "leurs réponses."
    ),
    "Run": "Exécution",
    "Prompts": "Questions",
    "Candidates": "Candidats",
    "Candidate": "Candidat",
    "No rehearsal yet.": "Aucune répétition pour l'instant.",
    "Score": "Score",
    "Similarity": "Similarité",
    "Own noise": "Bruit propre",
    "Refused": "Refusé",
    "Answers failed": "Réponses échouées",
    "empty answer": "réponse vide",
    "interrupted": "interrompue",
    "no answer stored": "aucune réponse enregistrée",
    "Worst drift first": "Les plus grands écarts d'abord",
    "Original": "Original",
    "prompt": "question",
    "prompts": "questions",
    "Every platform you rent, when its last export was taken and when the next one is due.": (
        "Chaque plateforme que vous louez, la date de son dernier export et celle du prochain."
    ),
    "This page only reads the plan: change it with the freehold exits commands.": (
        "Cette page ne fait que lire le plan : modifiez-le avec les commandes freehold exits."
    ),
    "platform": "plateforme",
    "platforms": "plateformes",
    "overdue": "en retard",
    "Overdue": "En retard",
    "Platform": "Plateforme",
    "Category": "Catégorie",
    "Every": "Fréquence",
    "day": "jour",
    "days": "jours",
    "Last export": "Dernier export",
    "Next export due": "Prochain export",
    "Latest file": "Dernier fichier",
    "Not usable": "Inutilisable",
    "Open format": "Format ouvert",
    "yes": "oui",
    "no": "non",
    "No export yet": "Aucun export pour l'instant",
    "Nothing in your exit plan yet.": "Votre plan de sortie est vide pour l'instant.",
    "Where to export": "Où exporter",
    "Your own platform": "Votre propre plateforme",
    "Add a platform": "Ajouter une plateforme",
    "Record an export": "Enregistrer un export",
    "The catalogue": "Le catalogue",
    "compiled": "établi le",
    "AI chat apps": "Applications de chat IA",
    "Payments": "Paiements",
    "E-mail lists": "Listes de diffusion",
    "CRMs": "CRM",
    "Shops": "Boutiques",
    "Hosting": "Hébergement",
    "Social accounts": "Réseaux sociaux",
    "Cloud drives": "Stockage en ligne",
    "Mail": "Messagerie",
    "Workspaces": "Espaces de travail",
    # Backups (backups.html) and the kinds of media (backup.destinations.media)
    "Backups": "Sauvegardes",
    "Three copies, on two kinds of media, one off site, made every day and proven by a restore.": (
        "Trois copies, sur deux types de support, dont une hors site, faites chaque jour et "
        "prouvées par une restauration."
    ),
    "This page only reads what this machine recorded: change it with the freehold backup "
    "commands.": (
        "Cette page ne fait que lire ce que cette machine a noté : modifiez-le avec les "
        "commandes freehold backup."
    ),
    "3-2-1 met": "3-2-1 respectée",
    "3-2-1 not met": "3-2-1 non respectée",
    "copy": "copie",
    "copies": "copies",
    "media": "supports",
    "one off site": "une hors site",
    "none off site": "aucune hors site",
    "Destination": "Destination",
    "Last successful backup": "Dernière sauvegarde réussie",
    "Last run": "Dernière exécution",
    "Last verify": "Dernière vérification",
    "Last drill": "Dernier exercice de restauration",
    "this disk": "ce disque",
    "another disk": "un autre disque",
    "remote": "distant",
    "off site": "hors site",
    "on site": "sur site",
    "never": "jamais",
    "ok": "ok",
    "FAILED": "ÉCHEC",
    "Daily job": "Tâche quotidienne",
    "Recovery kit": "Kit de récupération",
    "saved, confirmed on": "conservé, confirmé le",
    "not confirmed": "non confirmé",
    "Set up": "Mise en place",
    "Proof": "Preuve",
    # Carrying on (_composer.html, _generation.html)
    "Continue from here": "Continuer à partir d'ici",
    "Regenerate": "Régénérer",
    "Model or route": "Modèle ou route",
    "Routes": "Routes",
    "Aliases": "Alias",
    "Models": "Modèles",
    "Your message": "Votre message",
    "Send": "Envoyer",
    "Cancel": "Annuler",
    "Stop": "Arrêter",
    "Stopping…": "Arrêt en cours…",
    "Answering…": "Réponse en cours…",
    "No answer:": "Pas de réponse :",
    "No model is configured yet: add a provider, and a route or an alias, to": (
        "Aucun modèle n'est encore configuré : ajoutez un fournisseur, et une route ou un alias, à"
    ),
    "for example": "par exemple",
    "How:": "Comment :",
    "Back to the conversation": "Retour à la conversation",
    "Answered by": "Réponse de",
    "No answer": "Pas de réponse",
    "requested": "demandé",
    "served": "servi",
    "via": "via",
    "tokens": "jetons",
    "attempt": "tentative",
    "attempts": "tentatives",
    "after a back-off of": "après une attente de",
    # The break test (breaktest.html)
    "Break test": "Test de rupture",
    "If a provider or a backup destination vanished tomorrow, what would still work?": (
        "Si un fournisseur ou une destination de sauvegarde disparaissait demain, que "
        "resterait-il en état de marche ?"
    ),
    "This page shows the last break test: run one with freehold break-test.": (
        "Cette page montre le dernier test de rupture : lancez-en un avec freehold break-test."
    ),
    "No break test yet.": "Aucun test de rupture pour l'instant.",
    "If this provider vanished tomorrow": "Si ce fournisseur disparaissait demain",
    "If this backup destination vanished tomorrow": (
        "Si cette destination de sauvegarde disparaissait demain"
    ),
    "everything still works": "tout fonctionne encore",
    "nothing failed, but not everything was proven": (
        "rien n'a échoué, mais tout n'a pas été prouvé"
    ),
    "not proven": "non prouvé",
    "passed": "réussi",
    "failed": "échoué",
    "Route": "Route",
    "Profile": "Profil",
    "History, offline": "Historique, hors ligne",
    "Backup from": "Sauvegarde depuis",
    "Run it": "Le lancer",
    "every week in the daily job": "chaque semaine dans la tâche quotidienne",
    # An import's status (home.html, source.html: t(status)); "failed" is above
    "complete": "terminé",
    "partial": "partiel",
    "running": "en cours",
    # The daily job's states (backups.html, backup.status.DailyJob)
    "daily at": "chaque jour à",
    "active": "active",
    "written, NOT active": "écrite, PAS active",
    "not scheduled": "non planifiée",
    "not scheduled: the daily job backs up another data folder": (
        "non planifiée : la tâche quotidienne sauvegarde un autre dossier de données"
    ),
    "unknown": "inconnu",
    # Search by meaning's notes (search.html, web/meaning.py)
    "No embedding model is installed (wordllama): comparing words, not meaning.": (
        "Aucun modèle d'embeddings n'est installé (wordllama) : les mots sont comparés, "
        "pas le sens."
    ),
    "The local embedding model (wordllama) cannot be loaded: comparing words, not meaning.": (
        "Le modèle d'embeddings local (wordllama) ne peut pas être chargé : les mots sont "
        "comparés, pas le sens."
    ),
    "message newer than the meaning index is not searched": (
        "message plus récent que l'index du sens n'est pas cherché"
    ),
    "messages newer than the meaning index are not searched": (
        "messages plus récents que l'index du sens ne sont pas cherchés"
    ),
    "import since the meaning index was built may have changed messages it searches by their "
    "earlier words": (
        "import depuis la construction de l'index du sens a pu changer des messages qu'il "
        "cherche par leurs mots d'avant"
    ),
    "imports since the meaning index was built may have changed messages it searches by their "
    "earlier words": (
        "imports depuis la construction de l'index du sens ont pu changer des messages qu'il "
        "cherche par leurs mots d'avant"
    ),
    "The data folder is read-only: make it writable and search by meaning once to bring the "
    "index up to date.": (
        "Le dossier de données est en lecture seule : rendez-le accessible en écriture et "
        "cherchez une fois par le sens pour mettre l'index à jour."
    ),
}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language to answer in: the cookie, else the supported one the browser prefers."""
    if cookie in LANGUAGES:
        return cookie
    wanted = sorted(_ranges(accept_language or ""), key=lambda item: -item[1])  # stable
    return next((code for code, _ in wanted if code in LANGUAGES), "en")


def _ranges(header: str) -> list[tuple[str, float]]:
    """``fr-CA;q=0.8, en`` → [("fr", 0.8), ("en", 1.0)]: primary tags, without refused ones."""
    found = []
    for item in header.split(",")[:50]:
        tag, *params = item.split(";")
        weight = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0:  # q=0 means "not this one"; NaN is not > 0 either
            found.append((tag.strip().lower().split("-")[0], weight))
    return found


def translator(language: str) -> Callable[[str], str]:
    """A function from English text to the language's text (English when missing)."""
    if language != "fr":
        return _same
    return lambda text: FRENCH.get(text, text)


def _same(text: str) -> str:
    return text


def counter(language: str) -> Callable[[int, str, str], str]:
    """The word after a number, translated: ``noun(1, "conversation", "conversations")``.

    English says "0 conversations", French « 0 conversation »: 0 and 1 take the singular there.
    """
    t = translator(language)
    singular = (0, 1) if language == "fr" else (1,)
    return lambda number, one, many: t(one if number in singular else many)
