// The window desk: the form is checked in place (the server renders the verdict card, this script
// swaps it in and the live region announces it), and two more ways in: a photo or screenshot of
// the QR code, and the camera. QR codes are read in the browser by the browser's BarcodeDetector
// where it exists, else by jsQR (vendored beside this file). Nothing is stored: no cookie, no
// storage, the field is emptied after every check and the camera stops once it has read a code.
'use strict';
(() => {
  const form = document.getElementById('check');
  const field = document.getElementById('licence');
  const result = document.getElementById('result');
  const scan = document.getElementById('scan');
  const photo = document.getElementById('photo');
  const camera = document.getElementById('camera');
  const video = document.getElementById('preview');
  const status = document.getElementById('scan-status');
  // largest side an image is read at: phone photos are larger than any QR code needs
  const MAX_SIDE = 1600;
  const LOOK_EVERY_MS = 200;

  const say = (zh, en) => {
    if (!zh && !en) { status.replaceChildren(); return; }
    status.replaceChildren(document.createTextNode(zh + ' '));
    const span = document.createElement('span');
    span.lang = 'en';
    span.textContent = en;
    status.append(span);
  };

  // --- checking in place -------------------------------------------------------------------
  let busy = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const licence = field.value.trim();
    if (!licence || busy) return;
    busy = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const response = await fetch(form.action, {
        method: 'POST',
        body: new URLSearchParams({ licence }),
        cache: 'no-store',
        credentials: 'same-origin',
      });
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
      const fresh = doc.getElementById('result');
      if (!fresh) throw new Error('no result');
      // a static copy first: adopting a node takes it out of the live childNodes list
      const nodes = Array.from(fresh.childNodes);
      result.replaceChildren(...nodes.map((n) => document.adoptNode(n)));
      say();
    } catch (e) {
      const p = document.createElement('p');
      p.className = 'notice';
      p.setAttribute('role', 'alert');
      p.textContent = '无法连接核验服务，请重试。 Cannot reach the gateway; try again.';
      result.replaceChildren(p);
    } finally {
      field.value = '';
      busy = false;
      form.removeAttribute('aria-busy');
      field.focus();
    }
  });
  field.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { field.value = ''; stopCamera(); }
  });
  const submit = (text) => {
    field.value = text;
    form.requestSubmit();
  };

  // --- reading QR codes ----------------------------------------------------------------------
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  let detector = null;
  if ('BarcodeDetector' in window) {
    window.BarcodeDetector.getSupportedFormats()
      .then((formats) => {
        if (formats.includes('qr_code')) detector = new window.BarcodeDetector({ formats: ['qr_code'] });
      })
      .catch(() => {});
  }
  // the text of a QR code in `source` (an image, a bitmap or the video), or null
  const read = async (source, width, height) => {
    if (detector) {
      try {
        const codes = await detector.detect(source);
        if (codes.length > 0) return codes[0].rawValue;
      } catch (e) { /* fall back to jsQR */ }
    }
    if (!window.jsQR) return null;
    const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
    return code ? code.data : null;
  };

  // --- an uploaded photo or screenshot -------------------------------------------------------
  photo.addEventListener('change', async () => {
    const file = photo.files && photo.files[0];
    photo.value = '';
    if (!file) return;
    say('正在识别图片中的二维码…', 'Reading the QR code in the image…');
    try {
      const bitmap = await createImageBitmap(file);
      const text = await read(bitmap, bitmap.width, bitmap.height);
      bitmap.close();
      if (text) {
        say('已识别二维码，正在核验…', 'QR code read; checking…');
        submit(text);
      } else {
        say('图片中未找到二维码。', 'No QR code found in the image.');
      }
    } catch (e) {
      say('无法读取该图片。', 'The image cannot be read.');
    }
  });

  // --- the camera ----------------------------------------------------------------------------
  let stream = null;
  let timer = 0;
  const stopCamera = () => {
    clearTimeout(timer);
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    camera.setAttribute('aria-pressed', 'false');
  };
  const look = async () => {
    if (!stream) return;
    if (video.readyState >= 2 && video.videoWidth > 0) {
      const text = await read(video, video.videoWidth, video.videoHeight);
      if (text && stream) {
        stopCamera();
        say('已识别二维码，正在核验…', 'QR code read; checking…');
        submit(text);
        return;
      }
    }
    timer = setTimeout(look, LOOK_EVERY_MS);
  };
  camera.addEventListener('click', async () => {
    if (stream) {
      stopCamera();
      say('摄像头已关闭。', 'Camera off.');
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say('此浏览器无法使用摄像头。', 'This browser cannot use a camera here.');
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment' }, audio: false,
      });
    } catch (e) {
      say('无法打开摄像头：' + e.name, 'Cannot open the camera: ' + e.name);
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    camera.setAttribute('aria-pressed', 'true');
    say('请将二维码对准摄像头。', 'Hold the QR code up to the camera.');
    try { await video.play(); } catch (e) { /* playing starts when frames come */ }
    look();
  });

  scan.hidden = false;
})();
