# MicroPython side of tests/test_mqtt_client.py: the firmware MQTT client against a real broker.
# usage: micropython mqtt_scenarios.py SCENARIO PORT CLIENT_ID
# Prints one JSON line per event ({"event": ...}); pytest plays the peer with paho-mqtt.
import asyncio
import gc
import json
import sys
import time

from mqtt.client import Client
from mqtt.errors import NotConnected

scenario = sys.argv[1]
port = int(sys.argv[2])
client_id = sys.argv[3]
WILL_TOPIC = "t/will/" + client_id


def emit(event, **fields):
    fields["event"] = event
    print(json.dumps(fields))


def log(event, detail=None):
    emit("log", name=event, detail=detail)


def make_client(keepalive=10, inbox_capacity=8):
    return Client(client_id, "127.0.0.1", port, keepalive=keepalive,
                  will=(WILL_TOPIC, b"offline", 1, False), inbox_capacity=inbox_capacity,
                  backoff_min_ms=100, backoff_max_ms=800, ack_timeout_ms=500, log=log)


async def start(client):
    task = asyncio.create_task(client.run())
    await client.up.wait()
    return task


async def echo_until_bye(client):
    """Answer every message on t/in/... with a QoS 1 copy on t/out/echo until 'bye'."""
    while True:
        topic, payload = await client.inbox.get()
        emit("received", topic=topic, length=len(payload))
        if payload == b"bye":
            return
        await client.publish("t/out/echo", payload, qos=1)


async def pubsub():
    client = make_client()
    task = await start(client)
    await client.subscribe("t/in/#", qos=1)
    await client.publish("t/out/hello", b"qos0", qos=0)
    await client.publish("t/out/hello", b"qos1", qos=1)
    emit("ready")
    await echo_until_bye(client)
    emit("stats", **client.stats)
    await client.disconnect()
    await task


async def wait_for_kill():
    client = make_client()
    await start(client)
    await client.publish("t/out/alive", b"1", qos=1)
    emit("ready")
    while True:
        await asyncio.sleep(1)


async def reconnect():
    client = make_client(keepalive=5)
    task = await start(client)
    await client.subscribe("t/in/#", qos=1)
    emit("ready")
    # when the connection drops: QoS 0 fails cleanly, QoS 1 waits and is delivered later
    while client.connected():
        await asyncio.sleep_ms(20)
    emit("down")
    try:
        await client.publish("t/out/while-down", b"lost", qos=0)
        emit("qos0_while_down", outcome="sent")
    except NotConnected:
        emit("qos0_while_down", outcome="NotConnected")
    await client.publish("t/out/while-down", b"queued", qos=1, timeout_ms=20000)
    emit("qos1_delivered")
    await echo_until_bye(client)
    emit("stats", **client.stats)
    await client.disconnect()
    await task


async def keepalive(yielding, duration_ms=6000):
    """Keepalive 1 s; Mosquitto drops a silent client after about 5 s, so 6 s of work
    without a PINGREQ loses the connection (and publishes the will)."""
    # X25519 ladders chained on their own output; the yielding form pauses every 8 of the
    # 255 ladder steps (groupkey.crypto.x25519.x25519_steps)
    from groupkey.crypto.x25519 import run_to_completion, x25519_steps

    client = make_client(keepalive=1)
    task = await start(client)
    emit("ready")
    started = time.ticks_ms()
    pings_before = client.stats["pings"]
    timing = {"last": time.ticks_ms(), "longest": 0, "slices": 0}

    def pause():
        now = time.ticks_ms()
        timing["longest"] = max(timing["longest"], time.ticks_diff(now, timing["last"]))
        timing["slices"] += 1
        yield from asyncio.sleep_ms(0)
        timing["last"] = time.ticks_ms()

    scalar = bytes(range(1, 33))
    point = bytes([9] + [0] * 31)
    units = 0
    while time.ticks_diff(time.ticks_ms(), started) < duration_ms:
        if yielding:
            point = await x25519_steps(scalar, point, 8, pause)
        else:
            point = run_to_completion(x25519_steps(scalar, point, 8))
        units += 1
    emit("computed", ms=time.ticks_diff(time.ticks_ms(), started), x25519=units,
         slices=timing["slices"], longest_slice_ms=timing["longest"],
         pings=client.stats["pings"] - pings_before)
    await asyncio.sleep_ms(300)
    emit("stats", **client.stats)
    await client.disconnect()
    await task


async def inbox_drop():
    client = make_client(inbox_capacity=4)
    task = await start(client)
    await client.subscribe("t/in/#", qos=1)
    emit("ready")
    while client.stats["received"] < 20:
        await asyncio.sleep_ms(20)
    held = []
    while len(client.inbox):
        held.append(client.inbox.get_nowait()[1].decode())
    gc.collect()
    emit("inbox", held=held, dropped=client.inbox.dropped, received=client.stats["received"],
         mem_free=gc.mem_free())
    await client.disconnect()
    await task


async def wire():
    """Driven by tests/test_mqtt_wire.py, where pytest is the broker and checks packets."""
    client = make_client(keepalive=1)
    task = await start(client)
    await client.subscribe("t/in", qos=1)
    emit("subscribed")
    await client.publish("t/r", b"data", qos=1)
    emit("delivered")
    # a PINGREQ goes out after 0.5 s idle; then the loop blocks while the PINGRESP arrives:
    # afterwards the client must read it, not declare the broker silent
    await asyncio.sleep_ms(700)
    time.sleep_ms(2500)
    emit("paused")
    while True:
        topic, payload = await client.inbox.get()
        emit("received", topic=topic, payload=payload.decode())
        if payload == b"bye":
            break
    emit("stats", **client.stats)
    await client.disconnect()
    await task


SCENARIOS = {
    "wire": wire,
    "pubsub": pubsub,
    "will": wait_for_kill,
    "reconnect": reconnect,
    "keepalive": lambda: keepalive(True),
    "keepalive_blocking": lambda: keepalive(False),
    "inbox_drop": inbox_drop,
}

asyncio.run(SCENARIOS[scenario]())
emit("exit")
