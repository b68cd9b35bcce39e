"""Audio in: WAV decoding, downmix/resample/chunk, input devices, the microphone, local VAD.

May import the realtime core (``pcm``, ``turns``), config, errors and resources; never the
realtime shell, push-to-talk, desktop, tray or app. ``portaudio`` is the one module importing
sounddevice; numpy and soxr are imported only here (and by push-to-talk's sound cues).
"""
