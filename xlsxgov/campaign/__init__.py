"""Annual data-collection campaign: roster, mail, import."""
