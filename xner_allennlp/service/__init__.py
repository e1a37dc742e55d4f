"""
The tagging service of `allennlp xner-serve`: an aiohttp application (`app.make_app`) around a
loaded `xner_tagger` predictor, its batching of concurrent requests (`batcher`) and the page
that highlights the entities (`static/`). Not imported by the package itself (aiohttp takes a
third of a second to import): `from xner_allennlp.service.app import make_app`.
"""
