import { useEffect, useState } from 'react';

/** The app's path below /ui/ (e.g. "kv/app/"), following history navigation. */
export function usePath(): string {
  const read = () => decodeURIComponent(location.pathname.replace(/^\/ui\/?/, ''));
  const [path, setPath] = useState(read);
  useEffect(() => {
    const onPop = () => setPath(read());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  return path;
}

/** Goes to `path` below /ui/ without a reload. */
export function navigate(path: string): void {
  history.pushState(null, '', `/ui/${path.split('/').map(encodeURIComponent).join('/')}`);
  dispatchEvent(new PopStateEvent('popstate'));
}
