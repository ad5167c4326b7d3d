/**
 * The page a share link opens (`/share.html#<link>`): the link stays in
 * the fragment, which browsers never send to a server, and goes on to the
 * viewer, which joins it (`POST /api/v1/shares/{link}/join`) for every
 * connection and reconnection.
 */

const link = window.location.hash.slice(1);
const status = document.getElementById('share-status');
if (/^[A-Za-z0-9_-]{16,64}$/.test(link)) {
  // Once this page has loaded (a navigation replaced while loading is
  // reported as never finished by some clients).
  const go = () => setTimeout(() => window.location.replace(`/viewer.html?share=1#${link}`), 0);
  if (document.readyState === 'complete') go();
  else window.addEventListener('load', go, { once: true });
} else {
  status.textContent = 'This share link is incomplete: copy the whole address you were given.';
}
