"""pystray's xorg (XEmbed) backend, repaired: clicks, transparency, docking.

It extends pystray's own Xlib icon, so, beside desktop.xwindows, it is the one other module that
imports Xlib (lazily, only when this backend runs).
"""

from __future__ import annotations

import logging
from typing import Any

_log = logging.getLogger(__name__)


PANEL_GREY = (64, 64, 64)  # behind the icon when the tray's own background cannot be read


def fit_icon(image: Any, size: tuple[int, int], background: Any = None) -> Any:
    """The RGBA ``image`` as an opaque RGB picture of ``size``: square, centred, alpha blended.

    pystray's xorg backend pastes the RGBA picture into a black RGB one stretched to the slot (a
    24x30 slot makes a black, squashed icon); XEmbed windows have no alpha channel.
    """
    from PIL import Image

    width, height = size
    side = max(1, min(width, height))
    if background is None or background.size != size:
        background = Image.new("RGB", size, PANEL_GREY)
    picture = background.convert("RGBA")
    scaled = image.convert("RGBA").resize((side, side), Image.Resampling.LANCZOS)
    picture.alpha_composite(scaled, ((width - side) // 2, (height - side) // 2))
    return picture.convert("RGB")


def xorg_icon_class(base: type[Any]) -> type[Any]:
    import Xlib.error  # type: ignore[import-untyped, unused-ignore]
    import Xlib.X  # type: ignore[import-untyped, unused-ignore]
    from PIL import Image

    class XorgIcon(base):  # type: ignore[misc]
        """pystray's xorg Icon: hears clicks (pystray#151), draws on the tray's background,
        docks once per tray manager, and docks again when a tray manager (re)starts."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # A tray manager announces itself with a MANAGER client message on the root window
            # (System Tray spec): at a login the panel often starts after us, or restarts.
            manager_atom = self._display.intern_atom("MANAGER")
            pystray_messages = self._message_handlers[Xlib.X.ClientMessage]

            def on_client_message(event: Any) -> None:
                if event.client_type != manager_atom:
                    pystray_messages(event)
                elif event.data[1][1] == self._net_system_tray_sx and self._wanted:
                    self._show()

            self._message_handlers[Xlib.X.ClientMessage] = on_client_message

        def _create_window(self) -> Any:
            window = super()._create_window()
            mask = Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
            # ParentRelative: clearing the window paints the tray's background, which _draw
            # then reads back to blend the icon's transparent pixels with it.
            window.change_attributes(event_mask=mask, background_pixmap=Xlib.X.ParentRelative)
            # Before the first look for a tray manager, so none can appear unnoticed after it.
            self._display.screen().root.change_attributes(event_mask=Xlib.X.StructureNotifyMask)
            return window

        _systray_manager: Any  # pystray's: the tray manager's window we asked to dock in
        _wanted = False  # shown (docked, or waiting for a tray); only the loop thread sets it

        def _assert_docked(self) -> None:
            # pystray sends a dock request on every icon change and again in _show; trayer
            # then moves the window into a second socket and drops it from both, leaving the
            # icon undocked on the root window. Ask each tray manager once.
            owner = self._get_systray_manager()
            docked = self._systray_manager
            if owner is not None and (docked is None or docked.id != owner.id):
                self._dock_window()
            assert self._systray_manager

        def _show(self) -> None:
            self._wanted = True
            try:
                self._assert_docked()
            except AssertionError:
                _log.info("no system tray yet: the icon docks when one starts")

        def _hide(self) -> None:
            self._wanted = False
            super()._hide()

        def _update_icon(self) -> None:
            # Only redraw: docking is _show's and the MANAGER message's business.
            self._draw()
            self._icon_valid = True

        def _on_destroy_notify(self, event: Any) -> None:
            manager = self._systray_manager
            if manager is None or event.window.id != manager.id:
                return
            # The tray is gone; its save-set put our window on the root window. Hide it there
            # until a tray manager docks it again (now, if one already took over, or on MANAGER).
            self._systray_manager = None
            self._window.unmap()
            self._show()

        _quitting = False

        def _stop(self) -> None:
            # Runs on the loop thread (pystray dispatches it there). Its own DestroyNotify is
            # sometimes never seen (python-xlib, one in a few dozen stops here), which left the
            # process hanging after Quit: end the event loop on a flag instead.
            self._quitting = True
            super()._stop()

        def _events(self) -> Any:
            while not self._quitting:
                yield self._display.next_event()

        def _draw(self) -> None:
            try:
                geometry = self._window.get_geometry()
                size = (geometry.width, geometry.height)
                self._icon_data = fit_icon(self._icon, size, self._background(size))
                self._icon_data.tostring = self._icon_data.tobytes
                self._window.put_pil_image(self._gc, 0, 0, self._icon_data)
            except Xlib.error.XError:
                pass  # destroyed or not yet mapped: the next Expose draws it

        def _background(self, size: tuple[int, int]) -> Any:
            try:
                self._window.clear_area(0, 0, 0, 0)
                raw = self._window.get_image(0, 0, size[0], size[1], Xlib.X.ZPixmap, 0xFFFFFFFF)
            except Xlib.error.XError:
                return None
            if len(raw.data) != size[0] * size[1] * 4:
                return None  # not a 24-bit visual in 32-bit pixels: fall back to grey
            return Image.frombytes("RGB", size, raw.data, "raw", "BGRX")

    return XorgIcon
