#!/usr/bin/env python3
"""A camera as IP cameras serve one: an HTTP MJPEG stream
(multipart/x-mixed-replace) of JPEG frames cut from a video file, looped, at
the video's frame rate.

Usage: python scripts/mjpeg_server.py VIDEO PORT [--fps F] [--save-frames DIR]

For tests of live mode on loopback; serves on 127.0.0.1 only. PORT 0 picks a
free port; the first line printed names the URL. --save-frames writes the
JPEG files it serves (0000.jpg, ...), so that a test can check that a
recording kept the camera's bytes.
"""

import argparse
import os
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import cv2


def load_frames(video, limit=200):
    capture = cv2.VideoCapture(video)
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    frames = []
    while len(frames) < limit:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    if not frames:
        raise SystemExit(f"{video}: no frames")
    return frames, fps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("port", type=int)
    parser.add_argument("--fps", type=float)
    parser.add_argument("--save-frames", metavar="DIR")
    args = parser.parse_args()
    frames, fps = load_frames(args.video)
    if args.save_frames:
        os.makedirs(args.save_frames, exist_ok=True)
        for index, jpeg in enumerate(frames):
            with open(os.path.join(args.save_frames, f"{index:04d}.jpg"), "wb") as f:
                f.write(jpeg)
    period = 1.0 / (args.fps or fps)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            start = time.monotonic()
            index = 0
            try:
                while True:
                    jpeg = frames[index % len(frames)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                    self.wfile.write(f"Content-Length: {len(jpeg)}\r\n\r\n".encode())
                    self.wfile.write(jpeg + b"\r\n")
                    self.wfile.flush()
                    index += 1
                    time.sleep(max(0.0, start + index * period - time.monotonic()))
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    print(f"http://127.0.0.1:{port}/ serves {args.video} at {1 / period:.1f} fps", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
