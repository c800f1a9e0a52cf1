"""Helpers of the own-locustfile tests (`test_*locustfile*.py`): a realistic locustfile as a team
keeps it (three weighted tasks, a named dynamic path, an `on_start` login POST, a `between` wait),
and the same with a LoadTestShape; their fixtures are in conftest.py."""

from __future__ import annotations

import textwrap

SHOP = '''
    """A shop's load test, as a team keeps it next to its service."""
    import random

    from locust import HttpUser, between, task


    class Shopper(HttpUser):
        wait_time = between(0.001, 0.005)

        def on_start(self):
            self.client.post("/login", json={"username": "demo", "password": "demo"})

        @task(6)
        def browse(self):
            self.client.get("/")

        @task(3)
        def item(self):
            self.client.get(f"/items/{random.randint(1, 10_000)}", name="/items/[id]")

        @task(1)
        def checkout(self):
            with self.client.post("/cart/checkout", json={"items": [1, 2]}, catch_response=True) as answer:
                if answer.status_code != 200:
                    answer.failure(f"checkout answered {answer.status_code}")
'''

STEPS = SHOP + '''

    from locust import LoadTestShape


    class TwoSteps(LoadTestShape):
        """2 users for 2 s, then 5 until 4 s, then the end."""

        def tick(self):
            t = self.get_run_time()
            if t < 2:
                return 2, 20
            if t < 4:
                return 5, 20
            return None
'''

# A second user class beside the shop's, so a registered file has a choice of classes.
SHOP_AND_ADMIN = SHOP + '''

    class Admin(HttpUser):
        wait_time = between(0.001, 0.005)

        @task
        def report(self):
            self.client.get("/admin/report")
'''


def write(directory, name: str, text: str):
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path
