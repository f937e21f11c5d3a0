"""Create every topic of the contracts' registry (idempotent).

    python -m aria_platform.topics [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from aria_contracts.topics import REGISTRY


async def ensure_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in REGISTRY if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(t.name, t.partitions, 1, topic_configs=t.config()) for t in missing]
                )
            except TopicAlreadyExistsError:
                pass  # another process created it between list and create
        return [t.name for t in missing]
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default=os.environ.get("ARIA_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    args = parser.parse_args()
    created = asyncio.run(ensure_topics(args.bootstrap))
    print(f"topics: {len(REGISTRY)} declared, {len(created)} created" + (f" ({', '.join(created)})" if created else ""))


if __name__ == "__main__":
    main()
