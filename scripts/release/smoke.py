#!/usr/bin/env python3
"""The release check's smoke against a running `edge-gateway --simulate`: one line per step, exit 1 with the reason.

    smoke.py BASE_URL [--deadline SECONDS] [--token TOKEN]

Steps: /api/drone/status connected, a takeoff through /api/drone/execute, a WebSocket subscription to
status_updates that receives frames, /api/telemetry with records, /api/buffer with its fields.
Uses aiohttp (Debian python3-aiohttp), the client the agent backend uses against port 3002.
"""
import argparse
import asyncio
import sys
import time

import aiohttp

BUFFER_FIELDS = ("committed_sequence", "oldest_sequence", "depth", "file_bytes", "max_bytes", "sinks")


class SmokeFailure(Exception):
    pass


def report(step, detail):
    print(f"  smoke: {step}: {detail}", flush=True)


async def get_json(session, path):
    async with session.get(path) as response:
        body = await response.json(content_type=None)
        if response.status != 200:
            raise SmokeFailure(f"GET {path} answered {response.status}: {body}")
        return body


async def until(what, deadline, probe):
    """Polls probe() until it returns a truthy value; the last error becomes the reason on timeout."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            result = await probe()
            if result:
                return result
            last = "not yet"
        except (aiohttp.ClientError, asyncio.TimeoutError, SmokeFailure, ValueError) as error:
            last = f"{type(error).__name__}: {error}"
        await asyncio.sleep(0.5)
    raise SmokeFailure(f"{what}: not within the deadline ({last})")


async def run(base, seconds, token):
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=base, headers=headers, timeout=timeout) as session:
        async def connected():
            status = await get_json(session, "/api/drone/status")
            return status if status.get("connected") is True else None

        status = await until("/api/drone/status connected", deadline, connected)
        report("/api/drone/status", f"connected, battery {status.get('battery')}%")

        async def takeoff():
            async with session.post("/api/drone/execute", json={"action": "takeoff"}) as response:
                body = await response.json(content_type=None)
                if response.status != 200 or body.get("success") is not True:
                    raise SmokeFailure(f"takeoff answered {response.status}: {body}")
                return body

        body = await until("takeoff", deadline, takeoff)
        report("takeoff", body.get("message"))

        async with session.ws_connect("/ws", heartbeat=30) as ws:
            await ws.send_json({"type": "subscribe", "channel": "status_updates"})
            kinds = []
            while kinds.count("status_update") < 2:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SmokeFailure(f"status_updates: frames seen {kinds}, wanted subscribed and 2 status_update")
                message = await ws.receive(timeout=left)
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise SmokeFailure(f"status_updates: socket ended ({message.type.name}) after {kinds}")
                kinds.append(message.json().get("type"))
            if "subscribed" not in kinds:
                raise SmokeFailure(f"status_updates: no subscribed confirmation in {kinds}")
        report("status_updates", f"{len(kinds)} frames ({', '.join(sorted(set(kinds)))})")

        async def telemetry():
            page = await get_json(session, "/api/telemetry?limit=5")
            return page if page.get("records") else None

        page = await until("/api/telemetry records", deadline, telemetry)
        report("/api/telemetry", f"{len(page['records'])} records, first stream {page['records'][0].get('stream')}")

        buffer = await get_json(session, "/api/buffer")
        missing = [field for field in BUFFER_FIELDS if field not in buffer]
        if missing:
            raise SmokeFailure(f"/api/buffer lacks {missing}: {buffer}")
        report("/api/buffer", f"depth {buffer['depth']}, committed {buffer['committed_sequence']}, {len(buffer['sinks'])} sinks")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--deadline", type=float, default=120)
    parser.add_argument("--token")
    args = parser.parse_args()
    try:
        asyncio.run(run(args.base, args.deadline, args.token))
    except SmokeFailure as failure:
        print(f"  smoke: FAILED: {failure}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
