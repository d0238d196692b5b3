/** True when dist/ was built after every file under src/ last changed. */
export declare function distIsFresh(): boolean;
