"""Knowledge-graph-enhanced agents: ``kg`` (CKE-style CF + TransE) and ``lm-kg``."""
