#!/usr/bin/env python3
"""Prints N free ports: TCP ones on 127.0.0.1, then UDP ones (release-check.sh uses them for one daemon)."""
import socket
import sys

tcp, udp = int(sys.argv[1]), int(sys.argv[2])
held = []
for kind, count in ((socket.SOCK_STREAM, tcp), (socket.SOCK_DGRAM, udp)):
    for _ in range(count):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
