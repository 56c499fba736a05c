"""The answer cache: exact and semantic hits on earlier complete bot answers, scoped per
customer or shared, guarded by intent, entities and the question's action, single-flight
under load (see ``services`` for the API, ``keys`` for what is filed where)."""
