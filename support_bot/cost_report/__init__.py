"""Finance's cost report in the admin: the LLM ledger summed by day, provider, model and tier.

``selectors`` reads the ledger (one aggregate query feeds both the page and the CSV),
``conversations`` the conversation figures, ``filters`` turns the GET form into validated
filters, ``report`` adds the grouped rows up into totals and breakdowns, ``charts`` draws
them as SVG, ``views`` serves the page and the CSV.
"""
