// The hall screen: a clock, and the figures swapped in place whenever the gateway's event stream
// says they changed (the page is rendered by the server; nothing is stored in the browser).
'use strict';
(() => {
  const clock = document.getElementById('clock');
  const live = document.getElementById('live');
  const time = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit',
    hourCycle: 'h23',
  });
  const tick = () => { clock.textContent = time.format(new Date()); };
  tick();
  setInterval(tick, 1000);

  // one fetch at a time; a change during a fetch asks for one more
  let busy = false;
  let again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch('/screen', { cache: 'no-store' });
      if (response.ok) {
        const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
        const fresh = doc.getElementById('figures');
        const old = document.getElementById('figures');
        if (fresh && old) old.replaceWith(document.adoptNode(fresh));
      }
    } catch (e) {
      // the gateway is restarting: the stream reconnects and asks again
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  };

  const connect = () => {
    const events = new EventSource('/stats/events');
    events.addEventListener('stats', refresh);
    events.addEventListener('open', () => { live.dataset.live = 'true'; });
    events.addEventListener('error', () => {
      live.dataset.live = 'false';
      // a refused stream (a draining gateway) is not retried by the browser itself
      if (events.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    });
  };
  if ('EventSource' in window) connect(); else setInterval(refresh, 2000);
})();
