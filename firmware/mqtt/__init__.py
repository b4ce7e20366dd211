"""MQTT 3.1.1 client for the device firmware.

packet: bytes in and out; inbox: bounded queue; client: the asyncio connection owner.
"""
