"""The demo's articles: fixed content, enough to show one comment stream per article."""
from __future__ import annotations

ARTICLES = [
    {
        "slug": "harbour-reopens",
        "title": "The old harbour reopens after two years of works",
        "lede": "Fishing boats are back, and so is the Saturday market on the quay.",
        "body": [
            "After two years behind fences, the harbour opened again on Friday morning.",
            "The council says the new sea wall should hold against the winter storms.",
        ],
    },
    {
        "slug": "library-night",
        "title": "The town library stays open until midnight on Fridays",
        "lede": "A trial run for the winter: reading rooms, board games and hot soup.",
        "body": [
            "The library will open its doors late every Friday from next month.",
            "Volunteers run the board-game corner; the café serves soup until eleven.",
        ],
    },
    {
        "slug": "cycle-lanes",
        "title": "Three new cycle lanes, and where they go",
        "lede": "The map, the timetable of the works, and what changes for drivers.",
        "body": [
            "The first lane links the station with the school district.",
            "Works start in March; each lane takes about six weeks.",
        ],
    },
]

BY_SLUG = {article["slug"]: article for article in ARTICLES}
