"""Every stage, registered on import. The list is explicit: a new stage module is added here."""
