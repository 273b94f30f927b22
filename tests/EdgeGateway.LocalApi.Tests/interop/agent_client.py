#!/usr/bin/env python3
"""Talks to the gateway the way the agent backend does (shared/protocol-3002.md), with aiohttp.

Usage: agent_client.py http://127.0.0.1:PORT
Prints one JSON object (a summary of what it saw) on stdout; exits 0 when it could run every step.
The gateway test (AiohttpInteropTests) asserts on that summary.
"""
import asyncio
import json
import sys
import time

import aiohttp


async def execute(session, base, action, parameters):
    # Like the agent backend: the body is read as JSON before the status code is looked at.
    async with session.post(f"{base}/api/drone/execute",
                            json={"action": action, "parameters": parameters, "timestamp": time.time()}) as resp:
        body = await resp.json(content_type=None)
        return {"status": resp.status, "content_type": resp.content_type, "body": body}


async def main(base):
    summary = {"aiohttp_version": aiohttp.__version__}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        # Health check: any 200 is healthy; the body's keys are spread into the result.
        async with session.get(f"{base}/api/drone/status") as resp:
            status_body = await resp.json()
            summary["health"] = {"status": resp.status, "healthy": resp.status == 200, **status_body}

        summary["execute_ok"] = await execute(session, base, "drone_takeoff", {})
        summary["execute_fail"] = await execute(session, base, "move_up", {"distance": 9000})

        ws_url = base.replace("http://", "ws://", 1) + "/ws"
        async with session.ws_connect(ws_url, heartbeat=30) as ws:
            established = await ws.receive_json(timeout=10)
            summary["first_frame_type"] = established.get("type")

            await ws.send_json({"type": "subscribe", "channel": "status_updates"})
            confirmation = None
            status_update = None
            while confirmation is None or status_update is None:
                msg = await ws.receive_json(timeout=10)
                if msg.get("type") == "status_update":
                    status_update = status_update or msg
                elif confirmation is None:
                    confirmation = msg
            summary["confirmation"] = confirmation
            data = status_update.get("data")
            summary["status_update"] = {
                "data_is_object": isinstance(data, dict),
                "connected": data.get("connected") if isinstance(data, dict) else None,
                "battery": data.get("battery") if isinstance(data, dict) else None,
            }

            sent_ts = time.time()
            await ws.send_json({"type": "ping", "timestamp": sent_ts})
            while True:
                msg = await ws.receive_json(timeout=10)
                if msg.get("type") == "pong":
                    break
            summary["pong"] = {"timestamp_echoed": msg.get("timestamp") == sent_ts}

            await ws.send_str("{not json")
            while True:
                msg = await ws.receive_json(timeout=10)
                if msg.get("type") == "error":
                    break
            summary["malformed"] = {"code": msg.get("code"), "has_message": bool(msg.get("message")), "closed": ws.closed}
            await ws.close()
            summary["close_code"] = ws.close_code

    print(json.dumps(summary))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: agent_client.py http://127.0.0.1:PORT", file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(sys.argv[1].rstrip("/")))
